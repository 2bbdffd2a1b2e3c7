/* A disk's backing file or block device for the file-based engines:
 * open, size, discard, sync (see backing.h). */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pvd/log.h"
#include "pvd/num.h"
#include "backing.h"

const char *backing_params_path(const char *params)
{
	static const char *const prefixes[] = { "phy:", "file:", "raw:" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(params, prefixes[i], n) == 0)
			return params + n;
	}
	return params;
}

/* A number the kernel keeps in /sys/dev/block/M:N/queue/NAME, or dflt. */
static unsigned sysfs_uint(dev_t dev, const char *name, unsigned dflt)
{
	char path[128], buf[32];
	uint64_t v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/%s",
		 major(dev), minor(dev), name);
	f = fopen(path, "re");
	if (!f)
		return dflt;
	if (!fgets(buf, sizeof(buf), f) ||
	    pvd_parse_uint_n(buf, strcspn(buf, "\n"), 10, 0xffffffffu, &v) < 0)
		v = dflt;
	fclose(f);
	return (unsigned)v;
}

static int blockdev_info(struct backing_file *f, const struct stat *st,
			 bool readonly)
{
	int lbs = 512, pbs = 4096, ro = 0;
	uint64_t size;

	if (ioctl(f->fd, BLKGETSIZE64, &size) < 0)
		return -errno;
	/* Linux opens a read-only device for writing, then fails the
	 * writes: refuse at open, as for a read-only file. */
	if (!readonly && ioctl(f->fd, BLKROGET, &ro) == 0 && ro)
		return -EROFS;
	if (ioctl(f->fd, BLKSSZGET, &lbs) < 0 || lbs < 512)
		lbs = 512;
	if (ioctl(f->fd, BLKPBSZGET, &pbs) < 0 || pbs < lbs)
		pbs = lbs;
	f->info.size = size;
	f->info.lbs = (unsigned)lbs;
	f->info.pbs = (unsigned)pbs;
	f->info.blockdev = true;
	f->info.discard = sysfs_uint(st->st_rdev, "discard_max_bytes", 0) > 0;
	f->discard_granularity =
		sysfs_uint(st->st_rdev, "discard_granularity", (unsigned)lbs);
	return 0;
}

/* O_DIRECT needs buffers and offsets aligned to the file system's
 * direct-I/O alignment; blkif segments are aligned to 512 bytes. */
static bool direct_ok(int fd)
{
#ifdef STATX_DIOALIGN
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align)
		return stx.stx_dio_offset_align <= 512 &&
		       stx.stx_dio_mem_align <= 512;
#endif
	(void)fd;
	return true;
}

static int open_path(const char *path, bool readonly, bool direct)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY |
		    O_NONBLOCK | (direct ? O_DIRECT : 0);
	int fd = open(path, flags);

	if (fd < 0)
		return -errno;
	/* O_NONBLOCK only kept open() from waiting on odd files. */
	if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK & ~O_ACCMODE) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int file_open(const char *params, bool readonly,
		     struct backing_file *f)
{
	const char *path = backing_params_path(params);
	struct stat st;
	int rc;

	f->fd = open_path(path, readonly, true);
	if (f->fd == -EINVAL)
		f->fd = open_path(path, readonly, false);
	else if (f->fd >= 0)
		f->info.direct = true;
	if (f->fd < 0) {
		rc = f->fd;
		if (rc == -EACCES || rc == -EPERM)
			rc = readonly ? rc : -EROFS;
		log_warn("%s: cannot open %s: %s", path,
			 readonly ? "read-only" : "read-write", strerror(-rc));
		f->fd = -1;
		return rc;
	}
	if (fstat(f->fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		rc = blockdev_info(f, &st, readonly);
		if (rc < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		f->info.size = (uint64_t)st.st_size;
		f->info.lbs = 512;
		f->info.pbs = 4096;
		f->info.discard = true;
		f->discard_granularity = 4096;
	} else {
		log_warn("%s: neither a regular file nor a block device", path);
		rc = -EINVAL;
		goto fail;
	}
	f->info.dev = (uint64_t)st.st_dev;
	f->info.ino = (uint64_t)st.st_ino;
	if (f->info.direct && (f->info.lbs > 512 || !direct_ok(f->fd))) {
		log_info("%s: alignment above 512 bytes: buffered I/O", path);
		close(f->fd);
		f->info.direct = false;
		f->fd = open_path(path, readonly, false);
		if (f->fd < 0) {
			rc = f->fd;
			f->fd = -1;
			return rc;
		}
	}
	f->info.readonly = readonly;
	return 0;
fail:
	log_warn("%s: %s", path, strerror(-rc));
	close(f->fd);
	f->fd = -1;
	return rc;
}

static void file_close(struct backing_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static int file_size(struct backing_file *f, uint64_t *bytes)
{
	struct stat st;

	if (f->info.blockdev) {
		if (ioctl(f->fd, BLKGETSIZE64, bytes) < 0)
			return -errno;
		return 0;
	}
	if (fstat(f->fd, &st) < 0)
		return -errno;
	*bytes = (uint64_t)st.st_size;
	return 0;
}

int backing_discard(struct backing_file *f, uint64_t off, uint64_t len)
{
	if (f->info.readonly)
		return -EROFS;
	if (f->info.blockdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(f->fd, BLKDISCARD, range) < 0)
			return -errno;
		return 0;
	}
	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

int backing_sync(struct backing_file *f)
{
	return fdatasync(f->fd) < 0 ? -errno : 0;
}

int backing_open(const struct blk_backend_ops *ops, struct blk_engine *e,
		 const char *params, bool readonly, struct blk_backing **out,
		 struct blk_backing_info *info)
{
	struct backing_file *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	rc = file_open(params, readonly, f);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->base.ops = ops;
	f->base.engine = e;
	*info = f->info;
	*out = &f->base;
	return 0;
}

void backing_close(struct blk_backing *bb)
{
	struct backing_file *f;

	if (!bb)
		return;
	f = backing_file_of(bb);
	file_close(f);
	free(f);
}

int backing_size(struct blk_backing *bb, uint64_t *bytes)
{
	return file_size(backing_file_of(bb), bytes);
}
