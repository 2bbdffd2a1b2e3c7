/* A file mapped shared (see include/pvd/mapfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvd/daemon.h"
#include "pvd/log.h"
#include "pvd/mapfile.h"

int pvd_mapfile_open(const char *path, size_t len, void **map, bool *kept)
{
	struct stat st;
	void *p;
	int fd, rc;

	*map = NULL;
	*kept = false;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		log_warn("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto fail;
	}
	*kept = (size_t)st.st_size == len;
	/* A size that does not fit is a stale layout: start it empty. */
	if (!*kept && (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)len) < 0)) {
		rc = -errno;
		goto fail;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	*map = p;
	return 0;
fail:
	log_warn("%s (%zu bytes): %s", path, len, strerror(-rc));
	close(fd);
	*kept = false;
	return rc;
}

void pvd_mapfile_close(void *map, size_t len)
{
	if (map)
		munmap(map, len);
}

int pvd_journal_dir(char *buf, size_t len, const char *name)
{
	int rc = pvd_rundir_path(buf, len, name);

	if (rc == 0)
		rc = pvd_mkdir_p(buf, 0700);
	if (rc < 0)
		log_warn("no journal directory %s: a restart after kill -9 may "
			 "lose what was in flight (%s)", buf, strerror(-rc));
	return rc;
}

int pvd_journal_path(char *buf, size_t len, const char *dir, unsigned domid,
		     unsigned devid, unsigned queue)
{
	int n = snprintf(buf, len, "%s/%u-%u-%u", dir, domid, devid, queue);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void pvd_journal_forget(const char *dir, unsigned domid, unsigned devid,
			unsigned nq)
{
	char path[256];

	for (unsigned i = 0; i < nq; i++)
		if (pvd_journal_path(path, sizeof(path), dir, domid, devid, i) == 0 &&
		    unlink(path) < 0 && errno != ENOENT)
			log_warn("removing %s: %s", path, strerror(errno));
}
