// SPDX-License-Identifier: Apache-2.0
/* NDJSON output of the loader, kept apart from libbpf so it is testable without a kernel (format_test.c).
 * Field names here are the contract the node agent parses (bpf/agent/ndjson.ts). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "retrans.h"

struct out {
	char *buf;
	size_t len;
	size_t pos;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->overflow = 1;
		return;
	}
	o->pos += (size_t)n;
}

int format_addr(char *buf, size_t len, uint16_t family, const uint8_t *addr)
{
	int af = family == MESHLENS_AF_INET ? AF_INET : family == MESHLENS_AF_INET6 ? AF_INET6 : -1;

	if (af < 0 || !inet_ntop(af, addr, buf, (socklen_t)len))
		return -1;
	return 0;
}

static const char *direction_name(enum flow_direction direction)
{
	switch (direction) {
	case DIRECTION_OUTBOUND:
		return "outbound";
	case DIRECTION_INBOUND:
		return "inbound";
	default:
		return "unknown";
	}
}

static void put_flow(struct out *o, const struct ml_flow_delta *f)
{
	char laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];

	if (format_addr(laddr, sizeof(laddr), f->key.family, f->key.laddr) ||
	    format_addr(raddr, sizeof(raddr), f->key.family, f->key.raddr)) {
		o->overflow = 1;
		return;
	}
	put(o,
	    "{\"netns\":%" PRIu32 ",\"family\":%d,\"laddr\":\"%s\",\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,"
	    "\"retrans_segs\":%" PRIu64 ",\"rto\":%" PRIu64 ",\"fast\":%" PRIu64 ",\"tlp\":%" PRIu64
	    ",\"syn\":%" PRIu64 ",\"other\":%" PRIu64 ",\"segs_out\":%" PRIu64 ",\"srtt_us\":%" PRIu32
	    ",\"opened\":%s,\"closed\":%s,\"duration_us\":%" PRIu64 ",\"direction\":\"%s\"}",
	    f->key.netns, f->key.family == MESHLENS_AF_INET ? 4 : 6, laddr, f->key.lport, raddr, f->key.rport,
	    f->retrans_segs, f->events[CAUSE_RTO], f->events[CAUSE_FAST], f->events[CAUSE_TLP], f->events[CAUSE_SYN],
	    f->events[CAUSE_OTHER], f->segs_out, f->srtt_us, f->opened ? "true" : "false",
	    f->closed ? "true" : "false", f->duration_us, direction_name(f->direction));
}

int format_interval(char *buf, size_t len, const struct ml_interval_report *r, const struct ml_flow_delta *flows,
		    size_t nflows)
{
	struct out o = { .buf = buf, .len = len };
	size_t i;

	if (!len)
		return -1;
	put(&o,
	    "{\"type\":\"interval\",\"seq\":%" PRIu64 ",\"ts_ms\":%" PRId64 ",\"interval_ms\":%" PRIu64
	    ",\"attach\":\"%s\",\"active_connections\":%" PRId64 ",\"map_full_drops\":%" PRIu64
	    ",\"evicted_flows\":%" PRIu64 ",\"retrans_failed\":%" PRIu64 ",\"flows_tracked\":%" PRIu64
	    ",\"missed_events\":%" PRIu64 ",\"flows\":[",
	    r->seq, r->ts_ms, r->interval_ms, r->attach, r->active_connections, r->map_full_drops, r->evicted_flows,
	    r->retrans_failed, r->flows_tracked, r->missed_events);
	for (i = 0; i < nflows; i++) {
		if (i)
			put(&o, ",");
		put_flow(&o, &flows[i]);
	}
	put(&o, "]}\n");
	return o.overflow ? -1 : (int)o.pos;
}
