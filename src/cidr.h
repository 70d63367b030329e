/* cidr.h -- IP addresses and CIDR lists: parsing and matching (pure). */
#ifndef WSD_CIDR_H
#define WSD_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest address text cidr_addr_format() writes, NUL included. */
#define CIDR_ADDR_STRLEN	46

/*
 * An IP address without a port. IPv4 and v4-mapped IPv6 (::ffff:a.b.c.d)
 * are both AF_INET, so that one rule covers both spellings.
 */
struct cidr_addr {
	uint8_t		 family;	/* AF_INET, AF_INET6; 0: none */
	uint8_t		 a[16];		/* network order; v4 in a[0..3] */
};

/* A network: an address and a prefix length (32 or 128 for a host). */
struct cidr {
	struct cidr_addr addr;		/* host bits are zero */
	uint8_t		 len;
};

struct cidr_list {
	struct cidr	*v;
	size_t		 n;
};

/* Parses a bare numeric IPv4 or IPv6 address; 0, or -1 if invalid. */
int	cidr_addr_parse(const char *s, size_t len, struct cidr_addr *out);
/* The address of an AF_INET or AF_INET6 sockaddr; -1 for others. */
int	cidr_addr_from_sockaddr(const struct sockaddr *sa,
	    struct cidr_addr *out);
/* Formats an address into out[CIDR_ADDR_STRLEN]. */
void	cidr_addr_format(const struct cidr_addr *a, char *out);
/* 1 if a and b are the same address. */
int	cidr_addr_equal(const struct cidr_addr *a, const struct cidr_addr *b);

/*
 * Parses "ADDR/LEN" or a bare address (a host). Host bits set under the
 * prefix are an error ("10.0.0.1/8" is a typo for something); so are a
 * missing or out of range length.
 */
int	cidr_parse(const char *s, struct cidr *out);

/*
 * Appends every white-space separated network of text to list. Returns 0,
 * -1 with the first bad word copied into bad[badlen], or -2 when out of
 * memory.
 */
int	cidr_list_parse(struct cidr_list *list, const char *text, char *bad,
	    size_t badlen);
void	cidr_list_free(struct cidr_list *list);

/* 1 if a is in one of the list's networks. */
int	cidr_list_match(const struct cidr_list *list, const struct cidr_addr *a);

#endif
