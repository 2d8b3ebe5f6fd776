/* SPDX-License-Identifier: MIT */
/*
 * Guest memory as QEMU shares it over vhost-user: up to 8 regions, each
 * known by its guest-physical address, its address in QEMU's process (ring
 * addresses arrive as those "user" addresses) and its mapping here.
 * Every translation checks the whole range against the region bounds; a
 * guest-supplied address never reaches a pointer unchecked.
 */
#ifndef VSOCKD_GUEST_MEM_H
#define VSOCKD_GUEST_MEM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>

#include "lcow/error.h"

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t uva;  /* start in QEMU's address space */
	uint64_t size; /* bytes */
	uint8_t *host; /* start in ours */
	void *map;     /* what to munmap (NULL: not ours, e.g. a test buffer) */
	size_t map_len;
};

struct gmem {
	unsigned n;
	struct gmem_region r[GMEM_MAX_REGIONS];
};

static inline void gmem_init(struct gmem *gm)
{
	gm->n = 0;
}

/* mmap [mmap_offset, mmap_offset + size) of fd.  The fd is not kept. */
int gmem_map_region(struct gmem_region *out, int fd, uint64_t gpa, uint64_t size, uint64_t uva,
		    uint64_t mmap_offset, struct error *err);

/* Add a region; rejects empty ones and overlaps (guest-physical or user)
 * with those already present.  On success gm owns its mapping. */
int gmem_add(struct gmem *gm, const struct gmem_region *r, struct error *err);

/* Unmap every region. */
void gmem_clear(struct gmem *gm);

/* Host pointer for [uva, uva + len) if one region holds all of it. */
void *gmem_uva_ptr(const struct gmem *gm, uint64_t uva, uint64_t len);

/* Host pointer for [gpa, gpa + len) if one region holds all of it. */
void *gmem_gpa_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* Describe [gpa, gpa + len) as iovecs (a range may span adjacent regions).
 * Returns the number of entries used, -EFAULT when any byte is outside guest
 * memory, -E2BIG when max entries do not suffice. */
int gmem_gpa_iov(const struct gmem *gm, uint64_t gpa, uint64_t len, struct iovec *iov,
		 unsigned max);

#endif
