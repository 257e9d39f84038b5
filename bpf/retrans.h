/* SPDX-License-Identifier: Apache-2.0 */
/* Definitions shared by retrans.bpf.c (kernel), retrans.c (loader) and format.c (NDJSON output). */
#ifndef __MESHLENS_RETRANS_H
#define __MESHLENS_RETRANS_H

#define MESHLENS_AF_INET 2
#define MESHLENS_AF_INET6 10

/* Retransmit causes, as far as socket state tells them. Order is the NDJSON field order. */
enum retrans_cause {
	CAUSE_RTO = 0,   /* icsk_ca_state == TCP_CA_Loss (retransmission timeout) */
	CAUSE_FAST = 1,  /* icsk_ca_state Recovery/CWR/Disorder (fast retransmit) */
	CAUSE_TLP = 2,   /* icsk_pending == ICSK_TIME_LOSS_PROBE (tail-loss probe) */
	CAUSE_SYN = 3,   /* sk_state SYN_SENT/SYN_RECV */
	CAUSE_OTHER = 4, /* state did not tell */
	CAUSE_MAX = 5,
};

/* Flow flags in flow_stats.flags. */
#define FLOW_OPENED (1u << 0) /* the collector saw the transition into ESTABLISHED */
#define FLOW_CLOSED (1u << 1) /* the collector saw the transition into CLOSE */
/* Which end opened the connection, when the collector saw it happen (SYN_SENT or SYN_RECV). A server's flows are
 * keyed by its clients' ephemeral ports; knowing the direction lets the agent label them by the server endpoint. */
#define FLOW_OUTBOUND (1u << 2) /* connect()ed from this host: the remote endpoint is the server */
#define FLOW_INBOUND (1u << 3)  /* accepted from a listener: the local endpoint is the server */
#define FLOW_DIRECTION (FLOW_OUTBOUND | FLOW_INBOUND)

/* A flow's direction as printed: the flags above, or unknown for connections older than the collector. */
enum flow_direction {
	DIRECTION_UNKNOWN = 0,
	DIRECTION_OUTBOUND = 1,
	DIRECTION_INBOUND = 2,
};

struct ml_flow_key {
	__u32 netns;     /* network namespace inode */
	__u16 family;    /* MESHLENS_AF_INET or MESHLENS_AF_INET6 */
	__u16 lport;     /* host order */
	__u16 rport;     /* host order */
	__u16 pad;
	__u8 laddr[16];  /* IPv4 uses the first 4 bytes */
	__u8 raddr[16];
};

/* Cumulative per-flow values; the loader turns them into per-interval deltas. */
struct ml_flow_counts {
	__u64 retrans_segs;        /* sum of tcp_skb_pcount of retransmitted skbs */
	__u64 events[CAUSE_MAX];   /* retransmit events by cause */
	__u64 segs_out;            /* latest tcp_sock.segs_out sampled (cumulative, kernel value) */
	__u64 open_ns;             /* bpf_ktime_get_ns at ESTABLISHED, 0 when not seen */
	__u64 close_ns;            /* bpf_ktime_get_ns at CLOSE, 0 while open */
	__u32 srtt_us;             /* latest tcp_sock.srtt_us >> 3 */
	__u32 flags;               /* FLOW_* */
	/* Exact figure, immune to skipped events: tcp_sock.total_retrans (what ss -ti shows) is read on every retransmit
	 * and state change; sock_retrans sums its growth over the sockets this flow has had. */
	__u64 sock_retrans;        /* segments retransmitted by this flow's sockets since the collector saw them */
	__u64 sock_total;          /* latest total_retrans of sock_id */
	__u64 sock_id;             /* kernel address of the socket sock_total follows */
	__u64 synack_segs;         /* SYN-ACKs retransmitted for request sockets (no tcp_sock counts them) */
};

/* Global counters, kept in the BPF object's .bss and read by the loader each interval. */
struct ml_collector_counters {
	__u64 flows_created;       /* successful inserts into the flow map */
	__u64 map_full_drops;      /* updates lost because insertion failed */
	__u64 retrans_failed;      /* tcp_retransmit_skb events with err != 0 (not counted as retransmits) */
	__s64 active_connections;  /* ESTABLISHED seen minus CLOSE seen for those flows */
	__u64 nested_retransmits;  /* retransmits the tp_btf handler was skipped for, counted by its nested twin */
};

#ifndef __bpf__
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* One flow's deltas over an interval, as printed. */
struct ml_flow_delta {
	struct ml_flow_key key;
	uint64_t retrans_segs;
	uint64_t events[CAUSE_MAX];
	uint64_t segs_out;
	uint32_t srtt_us;
	bool opened;
	bool closed;
	uint64_t duration_us;
	enum flow_direction direction;
};

/* One interval's header, as printed. */
struct ml_interval_report {
	uint64_t seq;
	int64_t ts_ms;          /* wall clock at interval end, Unix ms */
	uint64_t interval_ms;
	const char *attach;     /* "tp_btf" or "tracepoint" */
	int64_t active_connections;
	uint64_t map_full_drops; /* delta */
	uint64_t evicted_flows;  /* delta */
	uint64_t retrans_failed; /* delta */
	uint64_t flows_tracked;  /* entries in the map at interval end */
	uint64_t missed_events;  /* delta of the programs' recursion_misses: events the kernel did not run us for */
};

/* Writes one NDJSON line (with '\n') into buf. Returns the length, or -1 when buf is too small. */
int format_interval(char *buf, size_t len, const struct ml_interval_report *r, const struct ml_flow_delta *flows,
		    size_t nflows);
/* Writes the address in text form (inet_ntop). Returns 0, or -1 on a bad family. */
int format_addr(char *buf, size_t len, uint16_t family, const uint8_t *addr);
#endif

#endif /* __MESHLENS_RETRANS_H */
