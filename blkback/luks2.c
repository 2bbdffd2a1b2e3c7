/* LUKS2 binary headers (cryptsetup's "LUKS2 On-Disk Format
 * Specification" and lib/luks2/luks2_disk_metadata.c, LUKS2_disk_hdr_read):
 * two copies of a 4096-byte binary header each followed by its JSON area,
 * the primary at 0 and the secondary at hdr_size (or, when the primary is
 * unreadable, at one of the known sizes 16 KiB..4 MiB).  A copy counts if
 * its magic, version, offset and size are right, its checksum (the named
 * hash over the binary header with the checksum zeroed, then the whole
 * JSON area) matches, and the JSON text is NUL-terminated with only NULs
 * after it and parses; of two good copies the one with the higher seqid
 * wins, as in cryptsetup.  The JSON itself is read in luks2_json.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "luks_priv.h"

#define BIN_LEN       4096u
#define HDR_MIN       0x4000u
#define HDR_MAX       0x400000u
#define OFF_VERSION   6
#define OFF_HDR_SIZE  8
#define OFF_SEQID     16
#define OFF_CSUM_ALG  72
#define OFF_HDR_OFF   256
#define OFF_CSUM      448
#define CSUM_LEN      64

struct hdr_copy {
	uint8_t bin[BIN_LEN];
	char *json;                 /* the JSON area, hdr_size - 4096 bytes */
	uint64_t size, seqid;
	bool bin_ok;                /* size and seqid can be trusted */
	json_t *root;
	char why[96];               /* why this copy does not count */
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int bad(struct hdr_copy *h, int rc, const char *why)
{
	snprintf(h->why, sizeof(h->why), "%s", why);
	return rc;
}

/* The binary header's own fields (cryptsetup's hdr_disk_sanity_check_pre). */
static int bin_check(const struct luks_open_ctx *o, struct hdr_copy *h,
		     uint64_t off, bool secondary)
{
	const char *magic = secondary ? "SKUL\xba\xbe" : "LUKS\xba\xbe";

	if (memcmp(h->bin, magic, 6))
		return bad(h, -EINVAL, "bad magic");
	if ((h->bin[OFF_VERSION] << 8 | h->bin[OFF_VERSION + 1]) != 2)
		return bad(h, -EINVAL, "bad version");
	if (be64(h->bin + OFF_HDR_OFF) != off)
		return bad(h, -EINVAL, "header offset field does not match its place");
	h->size = be64(h->bin + OFF_HDR_SIZE);
	h->seqid = be64(h->bin + OFF_SEQID);
	if (h->size < HDR_MIN || h->size > HDR_MAX || (h->size & (h->size - 1)))
		return bad(h, -EINVAL, "bad header size");
	if (secondary && off != h->size)
		return bad(h, -EINVAL, "secondary header not at the header size");
	if (h->size > o->dev_size || off > o->dev_size - h->size)
		return bad(h, -EINVAL, "header beyond the device");
	return 0;
}

static int csum_check(struct hdr_copy *h)
{
	char alg[33];
	const EVP_MD *md = NULL;
	uint8_t zero[CSUM_LEN] = { 0 }, out[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx;
	int ok;

	luks_field_str(alg, sizeof(alg), h->bin + OFF_CSUM_ALG, 32);
	if (!strcmp(alg, "sha256") || !strcmp(alg, "sha512") || !strcmp(alg, "sha1"))
		md = EVP_get_digestbyname(alg);
	if (!md)
		return bad(h, -ENOTSUP, "unsupported checksum algorithm");
	if (!(ctx = EVP_MD_CTX_new()))
		return bad(h, -ENOMEM, "out of memory");
	ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, h->bin, OFF_CSUM) == 1 &&
	     EVP_DigestUpdate(ctx, zero, CSUM_LEN) == 1 &&
	     EVP_DigestUpdate(ctx, h->bin + OFF_CSUM + CSUM_LEN,
			      BIN_LEN - OFF_CSUM - CSUM_LEN) == 1 &&
	     EVP_DigestUpdate(ctx, h->json, h->size - BIN_LEN) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || !len || len > CSUM_LEN)
		return bad(h, -EIO, "checksum failed in OpenSSL");
	if (CRYPTO_memcmp(out, h->bin + OFF_CSUM, len))
		return bad(h, -EINVAL, "checksum mismatch");
	return 0;
}

/* The JSON text: '{' first, NUL-terminated inside the area, only NULs
 * after it (cryptsetup's validate_json_area), then parsed. */
static int json_parse(struct hdr_copy *h)
{
	size_t area = h->size - BIN_LEN;
	const char *end = memchr(h->json, '\0', area);
	json_error_t je;

	if (h->json[0] != '{' || !end)
		return bad(h, -EINVAL, "JSON area not a NUL-terminated object");
	for (const char *p = end; p < h->json + area; p++)
		if (*p)
			return bad(h, -EINVAL, "bytes after the JSON text");
	h->root = json_loadb(h->json, (size_t)(end - h->json),
			     JSON_REJECT_DUPLICATES, &je);
	if (h->root && !json_is_object(h->root)) {
		json_decref(h->root);
		h->root = NULL;      /* a copy counts only with its root set */
		return bad(h, -EINVAL, "JSON not an object");
	}
	if (!h->root) {
		char text[64];

		/* jansson quotes the input near the error: header bytes. */
		luks_field_str(text, sizeof(text), je.text, strlen(je.text));
		snprintf(h->why, sizeof(h->why), "JSON: %s", text);
		return -EINVAL;
	}
	return 0;
}

static int copy_read(const struct luks_open_ctx *o, struct hdr_copy *h,
		     uint64_t off, bool secondary)
{
	int rc;

	if (off > o->dev_size || BIN_LEN > o->dev_size - off)
		return bad(h, -EINVAL, "header beyond the device");
	if ((rc = o->rd(o->arg, off, h->bin, BIN_LEN)))
		return bad(h, rc < 0 ? rc : -EIO, "read failed");
	if ((rc = bin_check(o, h, off, secondary)))
		return rc;
	h->bin_ok = true;
	if (!(h->json = malloc(h->size - BIN_LEN)))
		return bad(h, -ENOMEM, "out of memory");
	if ((rc = o->rd(o->arg, off + BIN_LEN, h->json, h->size - BIN_LEN)))
		return bad(h, rc < 0 ? rc : -EIO, "read failed");
	if ((rc = csum_check(h)))
		return rc;
	return json_parse(h);
}

static void copy_free(struct hdr_copy *h)
{
	free(h->json);
	json_decref(h->root);
}

/* The secondary copy: after the primary, or at every known size when the
 * primary's size cannot be trusted (cryptsetup's LUKS2_HDR2_OFFSETS). */
static void secondary_read(const struct luks_open_ctx *o,
			   const struct hdr_copy *h1, struct hdr_copy *h2)
{
	if (h1->bin_ok) {
		copy_read(o, h2, h1->size, true);
		return;
	}
	for (uint64_t off = HDR_MIN; off <= HDR_MAX; off <<= 1) {
		copy_free(h2);
		memset(h2, 0, sizeof(*h2));
		if (copy_read(o, h2, off, true) == 0)
			return;
	}
	bad(h2, -EINVAL, "not found at any known offset");
}

int luks2_open(const struct luks_open_ctx *o, struct luks_volume *v)
{
	struct hdr_copy *h1 = calloc(1, sizeof(*h1)), *h2 = calloc(1, sizeof(*h2));
	struct hdr_copy *use;
	int rc = -ENOMEM;

	if (!h1 || !h2) {
		luks_fail(o, rc, "out of memory");
		goto fail;
	}
	copy_read(o, h1, 0, false);
	secondary_read(o, h1, h2);
	if (h1->root && h2->root)
		use = h2->seqid > h1->seqid ? h2 : h1;
	else
		use = h1->root ? h1 : h2->root ? h2 : NULL;
	if (!use) {
		rc = luks_fail(o, -EINVAL, "corrupt LUKS2 header: primary: %s; "
			       "secondary: %s", h1->why, h2->why);
		goto fail;
	}
	v->version = 2;
	rc = luks2_json_open(o, use->root, use->size, v);
fail:
	if (h1)
		copy_free(h1);
	if (h2)
		copy_free(h2);
	free(h1);
	free(h2);
	return rc;
}
