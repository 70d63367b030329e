/* fuzz.h -- helpers shared by the libFuzzer targets. */
#ifndef WSD_FUZZ_H
#define WSD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * An invariant of the code under test: a violation aborts, which libFuzzer
 * reports as a crash and saves the input.
 */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

/* Input bytes consumed from the front, for the targets' parameters. */
struct fuzz_input {
	const uint8_t	*data;
	size_t		 len;
};

/* Takes n bytes (fewer at the end) from the front as a number. */
static inline uint64_t
fuzz_take(struct fuzz_input *in, size_t n)
{
	uint64_t	v = 0;

	while (n-- > 0 && in->len > 0) {
		v = v << 8 | *in->data++;
		in->len--;
	}
	return v;
}

/* A small deterministic PRNG (xorshift64) for split points. */
static inline uint64_t
fuzz_rand(uint64_t *state)
{
	uint64_t	x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
