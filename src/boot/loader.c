/* Reading kernel, initrd and module files, and choosing the loader by
 * looking at the kernel image (issue 4: "chosen by looking at the file"). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_file.h"
#include "hyve/boot.h"

int boot_file_open(const char *path, const char *what, uint64_t max,
		   int *fd_out, uint64_t *size_out, struct hyve_err *err)
{
	struct stat st;
	int fd;

	if (!path || !path[0])
		return err_set(err, EINVAL, "%s: no file given", what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "%s %s: %s", what, path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return err_set(err, e, "%s %s: %s", what, path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, EINVAL, "%s %s: not a regular file", what,
			       path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(err, EFBIG,
			       "%s %s: %" PRIu64
			       " bytes is larger than the %" PRIu64
			       " MiB limit",
			       what, path, (uint64_t)st.st_size, max >> 20);
	}
	*fd_out = fd;
	*size_out = (uint64_t)st.st_size;
	return 0;
}

int boot_file_read(int fd, void *dst, uint64_t size, const char *what,
		   const char *path, struct hyve_err *err)
{
	uint8_t *p = dst;
	uint64_t done = 0;

	while (done < size) {
		size_t chunk = size - done > (1U << 30) ? (1U << 30)
							: (size_t)(size - done);
		ssize_t n = pread(fd, p + done, chunk, (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(err, errno, "%s %s: %s", what, path,
				       strerror(errno));
		}
		if (n == 0)
			return err_set(
			    err, EIO,
			    "%s %s: file shrank while reading (%" PRIu64
			    " of %" PRIu64 " bytes)",
			    what, path, done, size);
		done += (uint64_t)n;
	}
	return 0;
}

int boot_file_load(const char *path, const char *what, uint64_t max,
		   uint8_t **buf_out, size_t *len_out, struct hyve_err *err)
{
	uint64_t size;
	uint8_t *buf;
	int fd, ret;

	ret = boot_file_open(path, what, max, &fd, &size, err);
	if (ret)
		return ret;
	buf = malloc(size ? size : 1);
	if (!buf) {
		ret = err_set(err, ENOMEM,
			      "%s %s: out of memory for %" PRIu64 " bytes",
			      what, path, size);
		goto out_close;
	}
	ret = boot_file_read(fd, buf, size, what, path, err);
	if (ret) {
		free(buf);
		goto out_close;
	}
	*buf_out = buf;
	*len_out = size;
out_close:
	close(fd);
	return ret;
}

int boot_load_kernel(struct guest_mem *gm, const struct vm_config *cfg,
		     struct boot_entry *entry, struct hyve_err *err)
{
	uint8_t *image = NULL;
	size_t len = 0;
	int ret;

	ret = boot_file_load(cfg->kernel, "kernel", BOOT_KERNEL_MAX, &image,
			     &len, err);
	if (ret)
		return ret;
	memset(entry, 0, sizeof(*entry));
	/* Multiboot first: a Multiboot kernel may carry anything at 0x202,
	 * while a bzImage never has the Multiboot magic in its header. */
	if (multiboot_probe(image, len))
		ret = multiboot_load(gm, cfg, image, len, entry, err);
	else if (linux_probe(image, len))
		ret = linux_load(gm, cfg, image, len, entry, err);
	else
		ret =
		    err_set(err, ENOEXEC,
			    "kernel %s: not a Multiboot or Linux bzImage file",
			    cfg->kernel);
	free(image);
	return ret;
}
