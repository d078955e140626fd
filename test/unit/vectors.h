/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TEST_VECTORS_H
#define SFS_TEST_VECTORS_H

/* loading the reference vectors (test/vectors) in unit tests */

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>

#ifndef SFS_VECTORS_DIR
#define SFS_VECTORS_DIR "test/vectors"
#endif

/* the whole file, which must be exactly @size bytes; aborts the test otherwise */
static inline void *load_vector(const char *name, size_t size)
{
	const char *dir = getenv("SFS_VECTORS_DIR");
	char path[4096];
	void *buf;
	FILE *f;
	size_t got;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : SFS_VECTORS_DIR, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open vector %s\n", path);
		abort();
	}
	buf = malloc(size + 1);
	got = fread(buf, 1, size + 1, f);
	fclose(f);
	if (got != size) {
		fprintf(stderr, "vector %s is %zu bytes, expected %zu\n", path, got, size);
		abort();
	}
	return buf;
}

static inline uint16_t get16(const void *b, size_t off)
{
	uint16_t v;

	memcpy(&v, (const char *)b + off, 2);
	return le16toh(v);
}

static inline uint32_t get32(const void *b, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)b + off, 4);
	return le32toh(v);
}

static inline uint64_t get64(const void *b, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)b + off, 8);
	return le64toh(v);
}

static inline int all_zero(const void *b, size_t from, size_t to)
{
	const unsigned char *p = b;

	for (size_t i = from; i < to; i++)
		if (p[i])
			return 0;
	return 1;
}

#endif
