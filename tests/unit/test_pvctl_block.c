/* The parsing in pvctl's block commands (tools/pvctl/block.c, through
 * block.h and pvctl.h, linked from libpvctl.a), which reads what a guest
 * may have written: device numbers from the store, a frontend's `backend`
 * node, and the NBD URI file in the guest's own directory; and the checks
 * of a disk's target before anything is written.  The store paths are tests/integration/test_pvctl_block.sh's. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pvd/daemon.h"
#include "../../tools/pvctl/block.h"
#include "../../tools/pvctl/pvctl.h"

struct fix {
	char dir[64];
	char gdir[128];
	char immutable[160];    /* a file to make writable again at teardown */
	struct pvctl p;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pvctl-block.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->gdir, sizeof(f->gdir), "%s/guests/dom3", f->dir);
	if (pvd_mkdir_p(f->gdir, 0755) < 0)
		return -1;
	f->p.rundir = f->dir;
	f->p.sigfd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[200];

	if (f->immutable[0]) {
		int fd = open(f->immutable, O_RDONLY), flags = 0;

		if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
			flags &= ~FS_IMMUTABLE_FL;
			ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}
		if (fd >= 0)
			close(fd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Numbers from the store (device numbers, states) and --timeout. */
static void test_parse_dec(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(pvctl_parse_dec("0", UINT32_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pvctl_parse_dec("51712", UINT32_MAX, &v), 0);
	assert_int_equal(v, 51712);
	assert_int_equal(pvctl_parse_dec("4294967295", UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(pvctl_parse_dec("4294967296", UINT32_MAX, &v), -ERANGE);
	assert_int_equal(pvctl_parse_dec("99999999999", UINT32_MAX, &v), -ERANGE);
	assert_int_equal(pvctl_parse_dec("6", 5, &v), -ERANGE);
	assert_int_equal(v, UINT32_MAX);        /* untouched on error */
	assert_int_equal(pvctl_parse_dec("", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec(NULL, UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec("01", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec("-1", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec("+1", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec(" 1", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec("1 ", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(pvctl_parse_dec("0x10", UINT32_MAX, &v), -EINVAL);
}

static void test_backend_named(void **state)
{
	unsigned b = 99;

	(void)state;
	assert_true(block_backend_named("/local/domain/0/backend/vbd/3/51712", 3, 51712, &b));
	assert_int_equal(b, 0);
	assert_true(block_backend_named("/local/domain/7/backend/vbd/3/51712", 3, 51712, &b));
	assert_int_equal(b, 7);         /* a driver domain */
	/* Anything but this very device of this very domain is ignored. */
	assert_false(block_backend_named(NULL, 3, 51712, &b));
	assert_false(block_backend_named("", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/backend/vbd/4/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/backend/vbd/3/51728", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/backend/vif/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/backend/vbd/3/51712/x", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/backend/vbd/3/51712/", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/backend/vbd/3", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0/../0/backend/vbd/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain//backend/vbd/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/00/backend/vbd/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/32752/backend/vbd/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/x/backend/vbd/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("/local/domain/0", 3, 51712, &b));
	assert_false(block_backend_named("/vm/0/backend/vbd/3/51712", 3, 51712, &b));
	assert_false(block_backend_named("local/domain/0/backend/vbd/3/51712", 3, 51712, &b));
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void uri_is(struct fix *f, const char *want)
{
	char buf[4400];

	block_nbd_uri(&f->p, 3, 51712, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_nbd_uri(void **state)
{
	struct fix *f = *state;
	char path[256], uri[300], big[9000];

	snprintf(path, sizeof(path), "%s/vbd-51712.nbd.uri", f->gdir);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/vbd-51712.nbd", f->gdir);
	uri_is(f, "-");                                 /* no file */
	write_file(path, uri, strlen(uri));
	uri_is(f, uri);                                 /* without a new line */
	strcat(uri, "\n");
	write_file(path, uri, strlen(uri));
	uri[strlen(uri) - 1] = '\0';
	uri_is(f, uri);                                 /* as pvguest writes it */
	write_file(path, "nbd+unix:///?socket=/elsewhere\n", 31);
	uri_is(f, "?");
	write_file(path, "", 0);
	uri_is(f, "?");
	write_file(path, uri, strlen(uri) - 1);                /* a prefix of it */
	uri_is(f, "?");
	write_file(path, "x\0y", 3);
	uri_is(f, "?");
	memset(big, 'a', sizeof(big));
	memcpy(big, uri, strlen(uri));
	write_file(path, big, sizeof(big));
	uri_is(f, "?");
	/* The guest's directory: links are not followed, and only a regular
	 * file is read (a FIFO would block). */
	unlink(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	uri_is(f, "-");
	unlink(path);
	assert_int_equal(mkfifo(path, 0644), 0);
	uri_is(f, "?");
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
	uri_is(f, "?");
	rmdir(path);
	/* Another domain or device: its own file. */
	write_file(path, uri, strlen(uri));
	{
		char buf[4400];

		block_nbd_uri(&f->p, 4, 51712, buf, sizeof(buf));
		assert_string_equal(buf, "-");
		block_nbd_uri(&f->p, 3, 51728, buf, sizeof(buf));
		assert_string_equal(buf, "-");
	}
}

static void disk(struct xlcfg_disk *d, const char *spec)
{
	char err[XLCFG_ERR_LEN];

	if (xlcfg_parse_disk(spec, d, err, sizeof(err)) < 0)
		fail_msg("%s: %s", spec, err);
}

/* NBD URIs: the scheme and its parts checked, nothing stat()ed; a TLS
 * key file named in the URI must be readable. */
static void test_check_nbd_target(void **state)
{
	struct fix *f = *state;
	struct xlcfg_disk d;
	char spec[400], psk[160];

	disk(&d, "format=raw,vdev=xvdb,target=nbd://10.0.0.2:10809/disk");
	assert_int_equal(block_check_target(&d), 0);
	disk(&d, "format=raw,vdev=xvdb,target=nbd+unix:///disk?socket=/run/nbd.sock");
	assert_int_equal(block_check_target(&d), 0);
	disk(&d, "nbd://server/disk,raw,xvdb,w");     /* positional: not a prefix */
	assert_string_equal(d.target, "nbd://server/disk");
	assert_int_equal(block_check_target(&d), 0);
	disk(&d, "format=raw,vdev=xvdb,target=nbd:///disk");
	assert_int_equal(block_check_target(&d), -EINVAL);     /* no host */
	disk(&d, "format=raw,vdev=xvdb,target=nbd+unix:///disk");
	assert_int_equal(block_check_target(&d), -EINVAL);     /* no socket= */
	disk(&d, "format=raw,vdev=xvdb,target=nbdx://server/disk");
	assert_int_equal(block_check_target(&d), -EINVAL);
	snprintf(psk, sizeof(psk), "%s/nbd.psk", f->dir);
	snprintf(spec, sizeof(spec),
		 "format=raw,vdev=xvdb,target=nbds://alice@server/disk?tls-psk-file=%s", psk);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), -ENOENT);
	write_file(psk, "alice:00", 8);
	assert_int_equal(block_check_target(&d), 0);
}

static void test_check_target(void **state)
{
	struct fix *f = *state;
	struct xlcfg_disk d;
	char spec[300], img[160];
	int fd, flags = 0;
	bool ro = false;

	snprintf(img, sizeof(img), "%s/disk.img", f->dir);
	write_file(img, "x", 1);
	snprintf(spec, sizeof(spec), "file:%s/none.img,xvdb,w", f->dir);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), -ENOENT);
	snprintf(spec, sizeof(spec), "file:%s,xvdb,w", f->dir);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), -EISDIR);
	disk(&d, "phy:/dev/null,xvdb,r");
	assert_int_equal(block_check_target(&d), -EINVAL);
	snprintf(spec, sizeof(spec), "%s/guests/dom3/vbd.fifo", f->dir);
	assert_int_equal(mkfifo(spec, 0644), 0);
	snprintf(spec, sizeof(spec), "file:%s/guests/dom3/vbd.fifo,xvdb,r", f->dir);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), -EINVAL);    /* never opened */
	snprintf(spec, sizeof(spec), "file:%s,xvdb,w", img);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), 0);
	/* Read-only: mode 0444 stops others, the immutable flag root. */
	if (geteuid() == 0) {
		fd = open(img, O_RDONLY);
		assert_true(fd >= 0);
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
			flags |= FS_IMMUTABLE_FL;
			if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0) {
				snprintf(f->immutable, sizeof(f->immutable), "%s", img);
				ro = true;
			}
		}
		close(fd);
	} else {
		ro = chmod(img, 0444) == 0;
	}
	if (!ro) {
		print_message("cannot make %s read-only here: not tested\n", img);
		return;
	}
	assert_int_equal(block_check_target(&d), geteuid() == 0 ? -EPERM : -EACCES);
	snprintf(spec, sizeof(spec), "file:%s,xvdb,r", img);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), 0);
}

/* rbd: targets are no paths: parsed, never stat()ed. */
static void test_check_rbd_target(void **state)
{
	struct fix *f = *state;
	struct xlcfg_disk d;
	char spec[400], conf[200];

	disk(&d, "vdev=xvdb,target=rbd:pool/img");
	assert_string_equal(d.target, "rbd:pool/img");    /* no /dev/ */
	assert_int_equal(block_check_target(&d), 0);
	disk(&d, "vdev=xvdb,access=rw,target=rbd:pool/img@snap");
	assert_int_equal(block_check_target(&d), -EROFS);
	disk(&d, "vdev=xvdb,access=ro,target=rbd:pool/img@snap");
	assert_int_equal(block_check_target(&d), 0);
	disk(&d, "vdev=xvdb,target=rbd:pool");
	assert_int_equal(block_check_target(&d), -EINVAL);
	disk(&d, "vdev=xvdb,target=rbd:pool/img:key=secret");
	assert_int_equal(block_check_target(&d), -EINVAL);
	snprintf(spec, sizeof(spec), "vdev=xvdb,target=rbd:p/i:conf=%s/none.conf", f->dir);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), -ENOENT);
	snprintf(conf, sizeof(conf), "%s/ceph.conf", f->dir);
	write_file(conf, "[global]\n", 9);
	snprintf(spec, sizeof(spec), "vdev=xvdb,target=rbd:p/i:conf=%s:id=guest", conf);
	disk(&d, spec);
	assert_int_equal(block_check_target(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_dec),
		cmocka_unit_test(test_backend_named),
		cmocka_unit_test_setup_teardown(test_nbd_uri, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_rbd_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_nbd_target, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
