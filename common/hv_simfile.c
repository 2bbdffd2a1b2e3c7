/* Shared files of the simulated hypervisor.
 *
 * A domain's memory, grant table and port table are memfds of the process
 * that owns them, sealed with F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL: a
 * backend maps them and a hostile owner cannot truncate them under it (a
 * plain file in the run directory could be truncated, and the backend would
 * die of SIGBUS on its next access).  Regular tmpfs files cannot be sealed,
 * so the run directory holds symlinks to /proc/<pid>/fd/<fd> instead.
 *
 * Opening a peer's file never trusts the link: it is resolved with O_PATH
 * (which opens nothing, so a link to a FIFO or a device has no effect),
 * checked to be a regular file, reopened through /proc/self/fd, and then
 * checked to be a shmem file whose seals forbid shrinking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "pvd/daemon.h"
#include "pvd/log.h"
#include "hv_sim_priv.h"

int simfile_dir(char *buf, size_t len, const char *rundir)
{
	int n = snprintf(buf, len, "%s/hv", rundir ? rundir : pvd_rundir());

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int simfile_create(struct simfile *f, const char *hvdir, const char *name,
		   size_t len, int future_write)
{
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	int rc;

	f->fd = -1;
	f->addr = MAP_FAILED;
	f->len = len;
	f->path[0] = '\0';
	if (future_write)
		seals |= F_SEAL_FUTURE_WRITE;
	rc = path_join(f->path, sizeof(f->path), hvdir, name);
	if (rc < 0)
		goto fail;
	f->fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f->fd < 0 || ftruncate(f->fd, (off_t)len) < 0) {
		rc = -errno;
		log_err("memfd %s: %s", name, strerror(-rc));
		goto fail;
	}
	f->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	if (f->addr == MAP_FAILED || fcntl(f->fd, F_ADD_SEALS, seals) < 0) {
		rc = -errno;
		log_err("memfd %s: mmap/seal: %s", name, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	f->path[0] = '\0';
	simfile_destroy(f);
	return rc;
}

int simfile_publish(struct simfile *f)
{
	char target[64], tmp[PATH_MAX + 32];
	int rc;

	/* Atomically: a peer sees the old link or the new one. */
	snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)getpid(), f->fd);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", f->path, (int)getpid());
	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, f->path) < 0) {
		rc = -errno;
		log_err("publishing %s: %s", f->path, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	return 0;
}

void simfile_destroy(struct simfile *f)
{
	char target[64], link[64];
	ssize_t n;

	if (f->path[0]) {
		/* Only remove the link if it is still ours. */
		snprintf(target, sizeof(target), "/proc/%d/fd/%d",
			 (int)getpid(), f->fd);
		n = readlink(f->path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (strcmp(link, target) == 0)
				unlink(f->path);
		}
		f->path[0] = '\0';
	}
	if (f->addr != MAP_FAILED && f->addr != NULL)
		munmap(f->addr, f->len);
	f->addr = MAP_FAILED;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int simfile_open(const char *hvdir, const char *name, int writable,
		 int *fdp, size_t *size)
{
	char path[PATH_MAX], self[64];
	struct statfs sfs;
	struct stat st;
	int pfd, fd = -1, seals, rc;

	rc = path_join(path, sizeof(path), hvdir, name);
	if (rc < 0)
		return rc;
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (fstat(pfd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warn("%s is not a regular file", path);
		rc = -EINVAL;
		goto fail;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		goto fail;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC || seals < 0 ||
	    !(seals & F_SEAL_SHRINK) || fstat(fd, &st) < 0) {
		log_warn("%s is not a sealed shared-memory file", path);
		rc = -EINVAL;
		goto fail;
	}
	close(pfd);
	*fdp = fd;
	*size = (size_t)st.st_size;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	close(pfd);
	return rc;
}

int simfile_lock(const char *hvdir, const char *name, int *fdp)
{
	char path[PATH_MAX];
	int fd, rc;

	rc = path_join(path, sizeof(path), hvdir, name);
	if (rc < 0)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EEXIST : -errno;
		close(fd);
		return rc;
	}
	*fdp = fd;
	return 0;
}
