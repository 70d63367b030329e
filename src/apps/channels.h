/* channels.h -- what other modules may ask of the channels app. */
#ifndef WSD_CHANNELS_H
#define WSD_CHANNELS_H

struct conn;

/*
 * Whether c may subscribe to (publish 0) or publish to (publish 1) the
 * named channel, beyond the route's own checks: where per-client rights
 * (a JWT "channels" claim) plug in. 1 for now.
 */
int	channels_allowed(const struct conn *c, const char *channel,
	    int publish);

#endif
