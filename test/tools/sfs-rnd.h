/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SFS_TEST_RND_H
#define SFS_TEST_RND_H
/*
 * What sfs-difftest and sfs-exerciser share: a seeded PRNG
 * (xoshiro256**, seeded through splitmix64) so that a seed replays a run
 * exactly, and a monotonic clock in seconds.  Each tool is one
 * translation unit, so the state is simply static here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static uint64_t rs[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rnd_seed(uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rs[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(void)
{
	uint64_t result = rotl(rs[1] * 5, 7) * 9;
	uint64_t t = rs[1] << 17;

	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = rotl(rs[3], 45);
	return result;
}

/* uniform in [0, n); n == 0 gives 0 */
static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
{
	return rnd_below(100) < pct;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
