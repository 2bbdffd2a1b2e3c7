/* pvd-blkback's crypt layer (blkback/crypt.c) over the real aio engine on
 * a tmpfs file, with a test double of the LUKS module (luks.h) behind the
 * link seams in test_blkback_crypt.wrap: the double reads its "header"
 * through the layer's synchronous reader (unaligned reads included),
 * takes one passphrase, and "encrypts" by XOR with a pattern that depends
 * on the sector, so that what lands in the file can be checked.
 *
 * Checked: reads decrypted and writes encrypted at payload offset + off;
 * the guest's buffer never holds ciphertext (bounce pages); 4096-byte
 * sectors straddling segments; misaligned requests refused; the bounce
 * pool bounded (writes wait, then all complete); size growing with the
 * backing (dynamic) or not (fixed); discard off unless allowed, shifted
 * when allowed; flush through; the key file's checks and a wrong key. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../blkback/crypt.h"
#include "../../blkback/luks.h"

#define PASS "correct horse\n"
#define POFF 8192u
#define DISK (8u << 20)
#define MARK_OFF 4093u
#define MARK "hdr!!"

/* ---------------------------------------------------------- the double */

struct luks_volume {
	unsigned ssize;
	uint64_t poff, psize;
};

static struct {
	unsigned ssize;
	uint64_t fixed;     /* payload size in the header; 0: the rest */
	int opens, closes;
} dbl;

static uint8_t pat(uint64_t off, unsigned ssize, size_t j)
{
	return (uint8_t)((off / ssize) * 31 + j % 251 + 1);
}

static int xor_sectors(struct luks_volume *v, uint64_t off, void *buf, size_t len)
{
	uint8_t *b = buf;

	if (off % v->ssize || len % v->ssize)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		b[i] ^= pat(off + i - i % v->ssize, v->ssize, i % v->ssize);
	return 0;
}

int __wrap_luks_open(luks_read_fn *rd, void *arg, uint64_t dev_size,
		     const void *pass, size_t passlen, struct luks_volume **out,
		     char *err, size_t errlen)
{
	char magic[8], mark[sizeof(MARK) - 1];
	struct luks_volume *v;

	if (rd(arg, 0, magic, sizeof(magic)) < 0 || memcmp(magic, "FAKELUKS", 8)) {
		snprintf(err, errlen, "not a LUKS volume");
		return -EINVAL;
	}
	/* Across a page boundary, not sector-aligned: the reader's job. */
	if (rd(arg, MARK_OFF, mark, sizeof(mark)) < 0 || memcmp(mark, MARK, sizeof(mark))) {
		snprintf(err, errlen, "corrupt header");
		return -EINVAL;
	}
	if (passlen != strlen(PASS) || memcmp(pass, PASS, passlen)) {
		snprintf(err, errlen, "no keyslot opens with this key");
		return -EPERM;
	}
	v = calloc(1, sizeof(*v));
	v->ssize = dbl.ssize;
	v->poff = POFF;
	v->psize = dbl.fixed ? dbl.fixed : dev_size - POFF;
	*out = v;
	dbl.opens++;
	return 0;
}

void __wrap_luks_close(struct luks_volume *v)
{
	if (v)
		dbl.closes++;
	free(v);
}

int __wrap_luks_version(const struct luks_volume *v) { return 2; }
const char *__wrap_luks_cipher(const struct luks_volume *v) { return "aes-xts-plain64"; }
unsigned __wrap_luks_key_bits(const struct luks_volume *v) { return 512; }
uint64_t __wrap_luks_payload_offset(const struct luks_volume *v) { return v->poff; }
uint64_t __wrap_luks_payload_size(const struct luks_volume *v) { return v->psize; }
unsigned __wrap_luks_sector_size(const struct luks_volume *v) { return v->ssize; }

int __wrap_luks_encrypt(struct luks_volume *v, uint64_t off, void *buf, size_t len)
{
	return xor_sectors(v, off, buf, len);
}

int __wrap_luks_decrypt(struct luks_volume *v, uint64_t off, void *buf, size_t len)
{
	return xor_sectors(v, off, buf, len);
}

/* ------------------------------------------------------------- fixture */

struct fx {
	char dir[64], img[96], key[96];
	int fd;                         /* the image, for checks */
	struct blk_engine *e;
	struct blk_backing *b;          /* the crypt backing */
	struct blk_backing_info info;
	int done, res;
};

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Opens the image with the aio engine and the crypt layer: 0 or -errno
 * (err filled). */
static int fx_open(struct fx *f, const struct blk_crypt_cfg *cfg, char *err, size_t errlen)
{
	const struct blk_backend_ops *ops = &blk_backend_aio;
	struct blk_backing *inner;
	struct blk_backing_info iinfo;
	int rc;

	rc = ops->open(f->e, f->img, false, &inner, &iinfo);
	assert_int_equal(rc, 0);
	rc = blk_crypt_open(ops, f->img, inner, &iinfo, cfg, &f->b, &f->info, err, errlen);
	if (rc < 0)
		ops->close(inner);
	return rc;
}

static int setup_ss(void **state, unsigned ssize, uint64_t fixed)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct blk_crypt_cfg cfg = { .keyfile = f->key };
	char hdr[POFF] = "FAKELUKS", err[160];

	memset(&dbl, 0, sizeof(dbl));
	dbl.ssize = ssize;
	dbl.fixed = fixed;
	strcpy(f->dir, "/dev/shm/pvd-crypt-XXXXXX");
	if (!mkdtemp(f->dir)) {
		strcpy(f->dir, "/tmp/pvd-crypt-XXXXXX");
		assert_non_null(mkdtemp(f->dir));
	}
	snprintf(f->img, sizeof(f->img), "%s/img", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key", f->dir);
	memcpy(hdr + MARK_OFF, MARK, strlen(MARK));
	write_file(f->img, hdr, sizeof(hdr), 0600);
	assert_int_equal(truncate(f->img, DISK), 0);
	write_file(f->key, PASS, strlen(PASS), 0400);
	f->fd = open(f->img, O_RDWR);
	assert_true(f->fd >= 0);
	assert_int_equal(blk_backend_aio.engine_create(64, &f->e), 0);
	assert_int_equal(fx_open(f, &cfg, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_ss(state, 512, 0); }
static int setup4k(void **state) { return setup_ss(state, 4096, 0); }
static int setup_fixed(void **state) { return setup_ss(state, 512, 1 << 20); }

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[96];

	if (f->b)
		blk_backend_crypt.close(f->b);
	blk_backend_aio.engine_destroy(f->e);
	close(f->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dbl.opens, dbl.closes);
	free(f);
	return 0;
}

/* A request as the pipeline makes one, with the fixture for on_done. */
struct tio {
	struct blk_io io;
	struct fx *f;
	struct iovec iov[300];
};

static void on_done(struct blk_io *io, int res)
{
	struct fx *f = ((struct tio *)(void *)io)->f;

	f->done++;
	f->res = res < 0 ? res : f->res;
}

static void tio_init(struct tio *t, struct fx *f, uint8_t op, uint64_t off,
		     unsigned niov, const unsigned *lens, uint8_t *buf)
{
	memset(t, 0, sizeof(*t));
	t->f = f;
	t->io.op = op;
	t->io.offset = off;
	t->io.done = on_done;
	for (unsigned i = 0; i < niov; i++) {
		t->iov[i] = (struct iovec){ buf, lens[i] };
		buf += lens[i];
		t->io.len += lens[i];
	}
	t->io.iov = t->iov;
	t->io.iovcnt = niov;
}

/* Commits and reaps until want completions (bounded). */
static void run_until(struct fx *f, int want)
{
	for (int i = 0; i < 2000 && f->done < want; i++) {
		struct pollfd p = { blk_backend_aio.engine_fd(f->e), POLLIN, 0 };

		blk_backend_aio.commit(f->e);
		if (!blk_backend_aio.ready(f->e) && poll(&p, 1, 5) > 0)
			blk_backend_aio.ack(f->e);
		blk_backend_aio.reap(f->e, 64);
	}
	assert_int_equal(f->done, want);
}

static int submit(struct fx *f, struct tio *t)
{
	if (t->io.op == BLK_IO_FLUSH)
		return blk_backend_crypt.flush(f->b, &t->io);
	if (t->io.op == BLK_IO_DISCARD)
		return blk_backend_crypt.discard(f->b, &t->io);
	return blk_backend_crypt.submit_rw(f->b, &t->io);
}

static void do_io(struct fx *f, struct tio *t)
{
	f->done = f->res = 0;
	assert_int_equal(submit(f, t), 0);
	run_until(f, 1);
	assert_int_equal(f->res, 0);
}

static uint8_t *aligned_buf(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	return p;
}

static void fill(uint8_t *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* The file at POFF + off holds buf encrypted by the double's pattern. */
static void assert_ciphertext(struct fx *f, uint64_t off, const uint8_t *plain, size_t len)
{
	uint8_t *c = malloc(len);
	unsigned ss = dbl.ssize;

	assert_int_equal(pread(f->fd, c, len, (off_t)(POFF + off)), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		if (c[i] != (plain[i] ^ pat(off + i - i % ss, ss, i % ss)))
			fail_msg("byte %zu at %llu: 0x%02x, want 0x%02x", i,
				 (unsigned long long)off, c[i],
				 plain[i] ^ pat(off + i - i % ss, ss, i % ss));
	free(c);
}

/* ------------------------------------------------------------- tests */

static void test_geometry(void **state)
{
	struct fx *f = *state;
	struct blk_crypt_desc d;

	assert_int_equal(f->info.size, DISK - POFF);
	assert_int_equal(f->info.lbs, 512);
	assert_false(f->info.discard);
	blk_crypt_describe(f->b, &d);
	assert_string_equal(d.cipher, "aes-xts-plain64");
	assert_int_equal(d.version, 2);
	assert_int_equal(d.key_bits, 512);
	assert_int_equal(d.payload_offset, POFF);
}

/* Write in odd segments, the file holds ciphertext at POFF + off, the
 * guest's buffer still holds plaintext, and a read gives it back. */
static void test_write_read(void **state)
{
	struct fx *f = *state;
	unsigned lens[] = { 512, 4096, 1536, 512, 8192 };
	size_t len = 512 + 4096 + 1536 + 512 + 8192;
	uint8_t *w = aligned_buf(len), *copy = malloc(len), *r = aligned_buf(len);
	struct tio t;

	fill(w, len, 3);
	memcpy(copy, w, len);
	tio_init(&t, f, BLK_IO_WRITE, 512 * 9, 5, lens, w);
	do_io(f, &t);
	assert_memory_equal(w, copy, len);      /* never encrypted in place */
	assert_ciphertext(f, 512 * 9, copy, len);
	memset(r, 0, len);
	tio_init(&t, f, BLK_IO_READ, 512 * 9, 5, lens, r);
	do_io(f, &t);
	assert_memory_equal(r, copy, len);
	free(w);
	free(copy);
	free(r);
}

/* 4096-byte sectors: segments of 512 and 3584 bytes make sectors that
 * straddle two segments; a misaligned request is refused. */
static void test_4k_sectors(void **state)
{
	struct fx *f = *state;
	unsigned lens[] = { 512, 4096, 3584, 4096, 512, 3584 };
	size_t len = 16384;
	uint8_t *w = aligned_buf(len), *r = aligned_buf(len);
	unsigned bad[] = { 512 };
	struct tio t;

	assert_int_equal(f->info.lbs, 4096);
	assert_int_equal(f->info.pbs, 4096);
	fill(w, len, 9);
	tio_init(&t, f, BLK_IO_WRITE, 4096 * 5, 6, lens, w);
	do_io(f, &t);
	assert_ciphertext(f, 4096 * 5, w, len);
	memset(r, 0, len);
	tio_init(&t, f, BLK_IO_READ, 4096 * 5, 6, lens, r);
	do_io(f, &t);
	assert_memory_equal(r, w, len);
	tio_init(&t, f, BLK_IO_READ, 4096 * 5 + 512, 1, bad, r);
	assert_int_equal(submit(f, &t), -EINVAL);
	tio_init(&t, f, BLK_IO_WRITE, 4096, 1, bad, w);
	assert_int_equal(submit(f, &t), -EINVAL);
	free(w);
	free(r);
}

/* A pool of 256 pages: three writes of 1 MiB in flight at once; the
 * second and third wait for pages, all three complete, in order. */
static void test_pool_bounded(void **state)
{
	struct fx *f = *state;
	struct blk_crypt_cfg cfg = { .keyfile = f->key, .pool_pages = 256 };
	struct tio *t = calloc(3, sizeof(*t));
	unsigned lens[256];
	uint8_t *w = aligned_buf(3u << 20), *r = aligned_buf(1u << 20);
	struct blk_crypt_desc d;
	char err[160];

	blk_backend_crypt.close(f->b);
	assert_int_equal(fx_open(f, &cfg, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 256; i++)
		lens[i] = 4096;
	fill(w, 3u << 20, 5);
	f->done = f->res = 0;
	for (unsigned i = 0; i < 3; i++) {
		tio_init(&t[i], f, BLK_IO_WRITE, (uint64_t)i << 20, 256, lens,
			 w + ((size_t)i << 20));
		assert_int_equal(submit(f, &t[i]), 0);
	}
	blk_crypt_describe(f->b, &d);
	assert_int_equal(d.bounce_waits, 1);    /* the 2nd; the 3rd queued behind */
	run_until(f, 3);
	assert_int_equal(f->res, 0);
	for (unsigned i = 0; i < 3; i++) {
		tio_init(&t[0], f, BLK_IO_READ, (uint64_t)i << 20, 256, lens, r);
		do_io(f, &t[0]);
		assert_memory_equal(r, w + ((size_t)i << 20), 1u << 20);
	}
	free(t);
	free(w);
	free(r);
}

static void test_size_dynamic(void **state)
{
	struct fx *f = *state;
	uint64_t sz;

	assert_int_equal(truncate(f->img, DISK * 2), 0);
	assert_int_equal(blk_backend_crypt.size(f->b, &sz), 0);
	assert_int_equal(sz, 2 * DISK - POFF);
}

static void test_size_fixed(void **state)
{
	struct fx *f = *state;
	uint64_t sz;

	assert_int_equal(f->info.size, 1 << 20);
	assert_int_equal(truncate(f->img, DISK * 2), 0);
	assert_int_equal(blk_backend_crypt.size(f->b, &sz), 0);
	assert_int_equal(sz, 1 << 20);
}

/* Off by default; when allowed, the hole lands at POFF + off. */
static void test_discard_flush(void **state)
{
	struct fx *f = *state;
	struct blk_crypt_cfg cfg = { .keyfile = f->key, .discard = true };
	unsigned lens[] = { 65536 };
	uint8_t *w = aligned_buf(65536), z[4096] = { 0 }, c[4096];
	struct tio t;
	char err[160];

	tio_init(&t, f, BLK_IO_DISCARD, 0, 0, NULL, NULL);
	t.io.len = 4096;
	assert_int_equal(submit(f, &t), -EOPNOTSUPP);
	blk_backend_crypt.close(f->b);
	assert_int_equal(fx_open(f, &cfg, err, sizeof(err)), 0);
	assert_true(f->info.discard);
	fill(w, 65536, 1);
	tio_init(&t, f, BLK_IO_WRITE, 0, 1, lens, w);
	do_io(f, &t);
	tio_init(&t, f, BLK_IO_DISCARD, 16384, 0, NULL, NULL);
	t.io.len = 4096;
	do_io(f, &t);
	assert_int_equal(pread(f->fd, c, sizeof(c), POFF + 16384), 4096);
	assert_memory_equal(c, z, sizeof(z));
	assert_ciphertext(f, 0, w, 16384);      /* before the hole: intact */
	assert_ciphertext(f, 20480, w + 20480, 65536 - 20480);
	assert_int_equal(pread(f->fd, c, 8, 0), 8);
	assert_memory_equal(c, "FAKELUKS", 8);  /* the header untouched */
	tio_init(&t, f, BLK_IO_FLUSH, 0, 0, NULL, NULL);
	do_io(f, &t);
	free(w);
}

/* open with key file kf: the error line (or "" on success). */
static const char *try_key(struct fx *f, const char *kf, int *rc)
{
	static char err[200];
	struct blk_crypt_cfg cfg = { .keyfile = kf };

	err[0] = 0;
	blk_backend_crypt.close(f->b);
	f->b = NULL;
	*rc = fx_open(f, &cfg, err, sizeof(err));
	return err;
}

static void test_key_file(void **state)
{
	struct fx *f = *state;
	char path[128], big[BLK_CRYPT_KEY_MAX + 1];
	int rc;

	snprintf(path, sizeof(path), "%s/none", f->dir);
	assert_non_null(strstr(try_key(f, path, &rc), "No such file"));
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(chmod(f->key, 0640), 0);
	assert_non_null(strstr(try_key(f, f->key, &rc), "open to group or others (mode 0640"));
	assert_int_equal(rc, -EPERM);
	assert_int_equal(chmod(f->key, 0600), 0);
	write_file(path, "", 0, 0600);
	assert_non_null(strstr(try_key(f, path, &rc), "is empty"));
	memset(big, 'k', sizeof(big));
	write_file(path, big, sizeof(big), 0600);
	assert_non_null(strstr(try_key(f, path, &rc), "larger than 8192 bytes"));
	assert_int_equal(rc, -EFBIG);
	assert_non_null(strstr(try_key(f, f->dir, &rc), "not a regular file"));
	write_file(path, "wrong\n", 6, 0400);
	assert_string_equal(try_key(f, path, &rc), "no keyslot opens with this key");
	assert_int_equal(rc, -EPERM);
	/* A corrupt header: the double's mark read through the engine. */
	assert_int_equal(pwrite(f->fd, "XXXXX", 5, MARK_OFF), 5);
	assert_string_equal(try_key(f, f->key, &rc), "corrupt header");
	assert_int_equal(pwrite(f->fd, MARK, 5, MARK_OFF), 5);
	assert_string_equal(try_key(f, f->key, &rc), "");
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_geometry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_4k_sectors, setup4k, teardown),
		cmocka_unit_test_setup_teardown(test_pool_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_dynamic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_fixed, setup_fixed, teardown),
		cmocka_unit_test_setup_teardown(test_discard_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
