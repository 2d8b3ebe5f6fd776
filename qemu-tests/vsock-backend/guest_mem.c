/* SPDX-License-Identifier: MIT */
#include "guest_mem.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

int gmem_map_region(struct gmem_region *out, int fd, uint64_t gpa, uint64_t size, uint64_t uva,
		    uint64_t mmap_offset, struct error *err)
{
	struct stat st;

	if (size == 0)
		return error_setx(err, EINVAL, "empty memory region");
	if (mmap_offset > UINT64_MAX - size || mmap_offset + size > SIZE_MAX)
		return error_setx(err, EINVAL, "memory region offset 0x%llx + size 0x%llx overflows",
				  (unsigned long long)mmap_offset, (unsigned long long)size);
	if (gpa > UINT64_MAX - size || uva > UINT64_MAX - size)
		return error_setx(err, EINVAL, "memory region at 0x%llx wraps",
				  (unsigned long long)gpa);
	/* Touching a shared mapping past the end of its file is SIGBUS; a
	 * region that claims more than the file holds must fail here. */
	if (fstat(fd, &st) < 0)
		return error_set(err, errno, "fstat memory fd");
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < mmap_offset + size)
		return error_setx(err, EINVAL, "memory region ends at 0x%llx beyond its file (0x%llx)",
				  (unsigned long long)(mmap_offset + size),
				  (unsigned long long)st.st_size);

	/* mmap wants a page-aligned offset; QEMU's need not be, so map from 0
	 * as other back-ends do and skip the offset. */
	size_t len = (size_t)(mmap_offset + size);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return error_set(err, errno, "mmap %zu bytes of guest memory", len);
	*out = (struct gmem_region){
		.gpa = gpa,
		.uva = uva,
		.size = size,
		.host = (uint8_t *)p + mmap_offset,
		.map = p,
		.map_len = len,
	};
	return 0;
}

static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gmem_add(struct gmem *gm, const struct gmem_region *r, struct error *err)
{
	if (gm->n >= GMEM_MAX_REGIONS)
		return error_setx(err, ENOSPC, "more than %d memory regions", GMEM_MAX_REGIONS);
	if (r->size == 0 || r->gpa > UINT64_MAX - r->size || r->uva > UINT64_MAX - r->size)
		return error_setx(err, EINVAL, "bad memory region gpa 0x%llx size 0x%llx",
				  (unsigned long long)r->gpa, (unsigned long long)r->size);
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gmem_region *o = &gm->r[i];
		if (ranges_overlap(r->gpa, r->size, o->gpa, o->size) ||
		    ranges_overlap(r->uva, r->size, o->uva, o->size))
			return error_setx(err, EINVAL, "memory region gpa 0x%llx overlaps another",
					  (unsigned long long)r->gpa);
	}
	gm->r[gm->n++] = *r;
	return 0;
}

void gmem_clear(struct gmem *gm)
{
	for (unsigned i = 0; i < gm->n; i++)
		if (gm->r[i].map)
			munmap(gm->r[i].map, gm->r[i].map_len);
	gm->n = 0;
}

/* Is [a, a + len) inside [base, base + size)?  Written so nothing overflows. */
static int in_range(uint64_t a, uint64_t len, uint64_t base, uint64_t size)
{
	return a >= base && a - base < size && len <= size - (a - base);
}

void *gmem_uva_ptr(const struct gmem *gm, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gmem_region *r = &gm->r[i];
		if (in_range(uva, len, r->uva, r->size))
			return r->host + (uva - r->uva);
	}
	return NULL;
}

void *gmem_gpa_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gmem_region *r = &gm->r[i];
		if (in_range(gpa, len, r->gpa, r->size))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int gmem_gpa_iov(const struct gmem *gm, uint64_t gpa, uint64_t len, struct iovec *iov,
		 unsigned max)
{
	unsigned n = 0;

	if (len && gpa > UINT64_MAX - len)
		return -EFAULT;
	while (len) {
		const struct gmem_region *r = NULL;
		for (unsigned i = 0; i < gm->n; i++) {
			if (in_range(gpa, 1, gm->r[i].gpa, gm->r[i].size)) {
				r = &gm->r[i];
				break;
			}
		}
		if (!r)
			return -EFAULT;
		if (n == max)
			return -E2BIG;
		uint64_t off = gpa - r->gpa;
		uint64_t k = r->size - off < len ? r->size - off : len;
		iov[n].iov_base = r->host + off;
		iov[n].iov_len = (size_t)k;
		n++;
		gpa += k;
		len -= k;
	}
	return (int)n;
}
