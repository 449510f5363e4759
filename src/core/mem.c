/* Guest RAM: one memfd so that later snapshot code can write it out and map a
 * RAM file in its place; split into PC ranges around the 32-bit MMIO hole. */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hyve/mem.h"

int guest_mem_layout(struct guest_mem *gm, uint64_t size, struct hyve_err *err)
{
	uint64_t low;

	if (size < GUEST_MEM_MIN || size > GUEST_MEM_MAX)
		return err_set(err, EINVAL,
			       "memory size %" PRIu64 " MiB is outside %llu MiB .. %llu GiB",
			       size >> 20, GUEST_MEM_MIN >> 20, GUEST_MEM_MAX >> 30);
	if (size % GUEST_PAGE_SIZE)
		return err_set(err, EINVAL, "memory size %" PRIu64 " is not a multiple of 4 KiB", size);
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	gm->size = size;
	low = size < GUEST_MMIO_HOLE_START ? size : GUEST_MMIO_HOLE_START;
	gm->ranges[0] = (struct mem_range){ .gpa = 0, .size = low, .offset = 0 };
	gm->nr_ranges = 1;
	if (size > low) {
		gm->ranges[1] = (struct mem_range){
			.gpa = GUEST_HIGH_RAM_START, .size = size - low, .offset = low };
		gm->nr_ranges = 2;
	}
	return 0;
}

int guest_mem_create(struct guest_mem *gm, uint64_t size, struct hyve_err *err)
{
	int ret = guest_mem_layout(gm, size, err);

	if (ret)
		return ret;
	gm->fd = memfd_create("hyve-ram", MFD_CLOEXEC);
	if (gm->fd < 0)
		return err_set(err, errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(gm->fd, (off_t)size) < 0) {
		ret = err_set(err, errno, "guest RAM of %" PRIu64 " MiB: %s", size >> 20, strerror(errno));
		goto out_close;
	}
	gm->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, gm->fd, 0);
	if (gm->host == MAP_FAILED) {
		gm->host = NULL;
		ret = err_set(err, errno, "mapping guest RAM: %s", strerror(errno));
		goto out_close;
	}
	madvise(gm->host, size, MADV_DONTDUMP);
	return 0;
out_close:
	close(gm->fd);
	gm->fd = -1;
	return ret;
}

void guest_mem_destroy(struct guest_mem *gm)
{
	if (gm->host)
		munmap(gm->host, gm->size);
	if (gm->fd >= 0)
		close(gm->fd);
	gm->host = NULL;
	gm->fd = -1;
}

void *guest_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nr_ranges; i++) {
		const struct mem_range *r = &gm->ranges[i];

		/* Written so that no sum can overflow: gpa - r->gpa only
		 * after gpa >= r->gpa, and len compared to what is left. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return gm->host ? gm->host + r->offset + (gpa - r->gpa) : NULL;
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len)
{
	void *p = guest_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = guest_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

int parse_size(const char *s, uint64_t *out, struct hyve_err *err)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)s[0]))
		return err_set(err, EINVAL, "size '%s' does not parse (expected e.g. 512M, 4G)", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return err_set(err, EINVAL, "size '%s' is too large", s);
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default:
		return err_set(err, EINVAL, "size '%s' has an unknown suffix (use K, M, G)", s);
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end)
		return err_set(err, EINVAL, "size '%s' does not parse (expected e.g. 512M, 4G)", s);
	if (shift && v > (UINT64_MAX >> shift))
		return err_set(err, EINVAL, "size '%s' is too large", s);
	*out = (uint64_t)v << shift;
	return 0;
}
