/* iplimit.c -- per-client-address connection counts and rates (pure). */
#include <sys/types.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "cidr.h"
#include "iplimit.h"

#define IPLIMIT_MIN_BUCKETS	64

struct iplimit_entry {
	struct iplimit_entry	*next;
	struct cidr_addr	 key;		/* IPv6: the /64 */
	unsigned		 count;
	struct access_rate	 bucket;	/* new connections */
};

struct iplimit {
	struct iplimit_entry	**buckets;
	size_t			  nbuckets;	/* a power of two */
	size_t			  n;
	unsigned		  max_count;
	unsigned		  rate;
	uint64_t		  seed;
	/* Workers share the table: every entry point takes the lock. */
	pthread_mutex_t		  mu;
};

/* Creates a table. */
struct iplimit *
iplimit_new(unsigned max_count, unsigned rate, uint64_t seed)
{
	struct iplimit	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->nbuckets = IPLIMIT_MIN_BUCKETS;
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	t->max_count = max_count;
	t->rate = rate;
	t->seed = seed;
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

/* Changes the limits; the next acquire applies them. */
static void
iplimit_set_limits_locked(struct iplimit *t, unsigned max_count,
    unsigned rate)
{
	t->max_count = max_count;
	t->rate = rate;
}

/* Frees a table and its entries. */
void
iplimit_free(struct iplimit *t)
{
	struct iplimit_entry *e, *next;
	size_t		 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t->buckets);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* The table key of an address: IPv6 cut to its /64. */
static void
iplimit_key(const struct cidr_addr *a, struct cidr_addr *key)
{
	*key = *a;
	if (key->family == AF_INET6)
		memset(key->a + 8, 0, 8);
}

/* FNV-1a over the key, started from the seed. */
static size_t
iplimit_hash(const struct iplimit *t, const struct cidr_addr *key)
{
	uint64_t	h = 0xcbf29ce484222325ULL ^ t->seed;
	size_t		i;

	h = (h ^ key->family) * 0x100000001b3ULL;
	for (i = 0; i < sizeof(key->a); i++)
		h = (h ^ key->a[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (size_t)h & (t->nbuckets - 1);
}

/* Doubles the bucket array when the table gets crowded. */
static void
iplimit_grow(struct iplimit *t)
{
	struct iplimit_entry **old = t->buckets, **nb, *e, *next;
	size_t		 oldn = t->nbuckets, i, h;

	if (t->n < t->nbuckets * 2)
		return;
	if ((nb = calloc(oldn * 2, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	t->buckets = nb;
	t->nbuckets = oldn * 2;
	for (i = 0; i < oldn; i++)
		for (e = old[i]; e != NULL; e = next) {
			next = e->next;
			h = iplimit_hash(t, &e->key);
			e->next = nb[h];
			nb[h] = e;
		}
	free(old);
}

/* The entry of a key, or NULL. */
static struct iplimit_entry *
iplimit_find(const struct iplimit *t, const struct cidr_addr *key)
{
	struct iplimit_entry *e;

	for (e = t->buckets[iplimit_hash(t, key)]; e != NULL; e = e->next)
		if (cidr_addr_equal(&e->key, key))
			return e;
	return NULL;
}

/* Counts a new connection. */
static int
iplimit_acquire_locked(struct iplimit *t, const struct cidr_addr *a, double now,
    struct iplimit_entry **out)
{
	struct iplimit_entry *e;
	struct cidr_addr key;
	size_t		 h;

	iplimit_key(a, &key);
	if ((e = iplimit_find(t, &key)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -1;
		e->key = key;
		access_rate_init(&e->bucket, t->rate, now);
		h = iplimit_hash(t, &key);
		e->next = t->buckets[h];
		t->buckets[h] = e;
		t->n++;
		iplimit_grow(t);
	}
	if (t->max_count > 0 && e->count >= t->max_count)
		return IPLIMIT_COUNT;
	/* A new entry has a full bucket: a refused e has connections or a
	 * refill pending and stays. */
	if (t->rate > 0 && access_rate_take(&e->bucket, t->rate, now) == -1)
		return IPLIMIT_RATE;
	e->count++;
	*out = e;
	return IPLIMIT_OK;
}

/* Whether an entry may go: no connection, nothing left to refill. */
static int
iplimit_idle(const struct iplimit *t, struct iplimit_entry *e, double now)
{
	if (e->count > 0)
		return 0;
	if (t->rate == 0)
		return 1;
	access_rate_refill(&e->bucket, t->rate, now);
	return e->bucket.tokens >= t->rate;
}

/* Unlinks and frees an entry. */
static void
iplimit_remove(struct iplimit *t, struct iplimit_entry *e)
{
	struct iplimit_entry **pp;

	for (pp = &t->buckets[iplimit_hash(t, &e->key)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			free(e);
			t->n--;
			return;
		}
}

/* A counted connection has ended. */
static void
iplimit_release_locked(struct iplimit *t, struct iplimit_entry *e, double now)
{
	if (e->count > 0)
		e->count--;
	if (iplimit_idle(t, e, now))
		iplimit_remove(t, e);
}

/* Frees idle entries. */
static void
iplimit_expire_locked(struct iplimit *t, double now)
{
	struct iplimit_entry **pp, *e;
	size_t		 i;

	for (i = 0; i < t->nbuckets; i++) {
		pp = &t->buckets[i];
		while ((e = *pp) != NULL) {
			if (iplimit_idle(t, e, now)) {
				*pp = e->next;
				free(e);
				t->n--;
			} else
				pp = &e->next;
		}
	}
}

/* Entries in the table. */
static size_t
iplimit_size_locked(const struct iplimit *t)
{
	return t->n;
}

/* Connections counted for an address. */
static unsigned
iplimit_count_locked(const struct iplimit *t, const struct cidr_addr *a)
{
	struct iplimit_entry *e;
	struct cidr_addr key;

	iplimit_key(a, &key);
	e = iplimit_find(t, &key);
	return e != NULL ? e->count : 0;
}

/* The entry points: each under the table's lock. */
void
iplimit_set_limits(struct iplimit *t, unsigned max_count, unsigned rate)
{
	pthread_mutex_lock(&t->mu);
	iplimit_set_limits_locked(t, max_count, rate);
	pthread_mutex_unlock(&t->mu);
}

int
iplimit_acquire(struct iplimit *t, const struct cidr_addr *a, double now,
    struct iplimit_entry **e)
{
	int	r;

	pthread_mutex_lock(&t->mu);
	r = iplimit_acquire_locked(t, a, now, e);
	pthread_mutex_unlock(&t->mu);
	return r;
}

void
iplimit_release(struct iplimit *t, struct iplimit_entry *e, double now)
{
	pthread_mutex_lock(&t->mu);
	iplimit_release_locked(t, e, now);
	pthread_mutex_unlock(&t->mu);
}

void
iplimit_expire(struct iplimit *t, double now)
{
	pthread_mutex_lock(&t->mu);
	iplimit_expire_locked(t, now);
	pthread_mutex_unlock(&t->mu);
}

size_t
iplimit_size(const struct iplimit *t)
{
	size_t	n;

	pthread_mutex_lock((pthread_mutex_t *)&t->mu);
	n = iplimit_size_locked(t);
	pthread_mutex_unlock((pthread_mutex_t *)&t->mu);
	return n;
}

unsigned
iplimit_count(const struct iplimit *t, const struct cidr_addr *a)
{
	unsigned	n;

	pthread_mutex_lock((pthread_mutex_t *)&t->mu);
	n = iplimit_count_locked(t, a);
	pthread_mutex_unlock((pthread_mutex_t *)&t->mu);
	return n;
}
