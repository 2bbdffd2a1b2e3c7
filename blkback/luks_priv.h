/* The LUKS module's insides, shared by its files (luks.c: open, the
 * volume, locked memory; luks1.c, luks2.c, luks2_json.c: the two header
 * formats; luks_kdf.c: keyslots, KDFs, AF merge; luks_crypt.c: cipher
 * specs and sector en/decryption through EVP).  Nothing here is for the
 * rest of pvd-blkback: luks.h is the interface. */
#ifndef PVD_BLKBACK_LUKS_PRIV_H
#define PVD_BLKBACK_LUKS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "luks.h"

struct evp_md_st;

#define LUKS_SECTOR        512u
#define LUKS_MAX_KEY       64u          /* bytes: aes-xts with 2x256 */
#define LUKS_MAX_STRIPES   4000u        /* cryptsetup and QEMU write 4000 */
#define LUKS_MAX_SALT      64u
#define LUKS_MAX_DIGEST    64u
/* KDF costs a hostile header could make absurd (an attach stuck for
 * hours, or gigabytes allocated): cryptsetup's benchmark for 2 s gives
 * ~1-4 M PBKDF2 iterations; its argon2 limits are 4 GiB and 4 threads. */
#define LUKS_MAX_PBKDF2_ITER  (1u << 25)
#define LUKS_MAX_ARGON_MEM_KB (4u << 20)
#define LUKS_MAX_ARGON_CPUS   4u
#define LUKS_MAX_ARGON_WORK   (1ull << 26)  /* time x memory, KiB passes */

enum luks_mode { LUKS_XTS, LUKS_CBC };
enum luks_iv { LUKS_IV_PLAIN, LUKS_IV_PLAIN64, LUKS_IV_ESSIV };

/* A cipher spec the module supports, with its master key size. */
struct luks_spec {
	enum luks_mode mode;
	enum luks_iv iv;
	unsigned key_bytes;
	char name[48];                /* cryptsetup's spelling */
};

/* Key derivation of a keyslot. */
enum luks_kdf_type { LUKS_KDF_PBKDF2, LUKS_KDF_ARGON2I, LUKS_KDF_ARGON2ID };
struct luks_kdf {
	enum luks_kdf_type type;
	const struct evp_md_st *md;        /* PBKDF2 */
	uint32_t iterations;               /* PBKDF2 iterations, argon2 time */
	uint32_t memory_kb, cpus;          /* argon2 */
	uint8_t salt[LUKS_MAX_SALT];
	size_t salt_len;
};

/* A keyslot ready to try: its KDF, the area holding the split key and
 * the area's cipher (key size = the derived key's). */
struct luks_slot {
	int id;
	struct luks_kdf kdf;
	struct luks_spec area_spec;
	uint64_t area_off;                 /* bytes from the device start */
	uint32_t stripes;
	const struct evp_md_st *af_md;
};

/* What luks_open is given, and where its one error line goes. */
struct luks_open_ctx {
	luks_read_fn *rd;
	void *arg;
	uint64_t dev_size;
	const void *pass;
	size_t passlen;
	char *err;
	size_t errlen;
};

struct luks_crypt;

struct luks_volume {
	int version;
	struct luks_spec spec;
	uint64_t payload_off, payload_size;
	unsigned sector_size;
	uint64_t iv_tweak;                 /* 512-byte sectors (LUKS2) */
	uint8_t *mk;                       /* locked page(s), LUKS_MAX_KEY */
	struct luks_crypt *crypt;
};

/* luks.c */
int luks_fail(const struct luks_open_ctx *o, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Forgets the line kept so far (a later cause replaces it). */
void luks_err_reset(const struct luks_open_ctx *o);
/* Copies a header's fixed-size string field for printing: NUL-terminated,
 * bytes other than printable ASCII as '?'. */
void luks_field_str(char *dst, size_t dstlen, const void *src, size_t srclen);
void *luks_secure_alloc(size_t len);
void luks_secure_free(void *p, size_t len);
int luks_read(const struct luks_open_ctx *o, uint64_t off, void *buf,
	      size_t len, const char *what);

/* luks1.c, luks2.c: fill v (spec, offsets, mk) or fail with o's line. */
int luks1_open(const struct luks_open_ctx *o, const uint8_t *hdr,
	       struct luks_volume *v);
int luks2_open(const struct luks_open_ctx *o, struct luks_volume *v);
/* luks2_json.c: the chosen copy's JSON (hdr_size: that copy's size). */
struct json_t;
int luks2_json_open(const struct luks_open_ctx *o, struct json_t *root,
		    uint64_t hdr_size, struct luks_volume *v);

/* luks_crypt.c */
int luks_spec_parse(const struct luks_open_ctx *o, const char *cipher,
		    const char *mode, unsigned key_bytes, struct luks_spec *s);
int luks_crypt_create(const struct luks_spec *s, const uint8_t *key,
		      unsigned sector_size, struct luks_crypt **out);
void luks_crypt_destroy(struct luks_crypt *c);
/* len bytes of whole sectors, the first with IV number iv, the next +1. */
int luks_crypt_run(struct luks_crypt *c, uint64_t iv, uint8_t *buf,
		   size_t len, bool enc);
const struct evp_md_st *luks_md(const struct luks_open_ctx *o,
				const char *name);
int luks_pbkdf2(const struct evp_md_st *md, const void *pass, size_t passlen,
		const uint8_t *salt, size_t saltlen, uint32_t iter,
		uint8_t *out, size_t outlen);

/* luks_kdf.c: derives, reads, decrypts, merges: 0 with mk filled (not yet
 * checked against the digest), or -errno with o's line. */
int luks_slot_unlock(const struct luks_open_ctx *o, const struct luks_slot *s,
		     uint8_t *mk, unsigned mk_bytes);
int luks_kdf_check(const struct luks_open_ctx *o, const struct luks_kdf *k,
		   int slot);
int luks_af_merge(const struct evp_md_st *md, const uint8_t *src,
		  unsigned key_bytes, unsigned stripes, uint8_t *dst);

#endif
