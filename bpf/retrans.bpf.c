// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Per-flow TCP retransmit, segment and lifetime counters aggregated in the kernel.
 * Two attach flavours of the same handlers: tp_btf (typed arguments) and classic tracepoints for kernels without
 * BTF tracepoints; the loader turns one flavour's autoload off. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "retrans.h"

#define ICSK_TIME_LOSS_PROBE 5

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load: count only sockets in this network namespace (inode), 0 = every namespace. */
const volatile __u32 target_netns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* overridden by the loader with --max-flows */
	__type(key, struct ml_flow_key);
	__type(value, struct ml_flow_counts);
} flows SEC(".maps");

struct ml_collector_counters counters = {};

/* How many btf_tcp_retransmit_skb runs are in progress on this CPU. The kernel skips a tp_btf program that is already
 * running on the CPU (a softirq retransmit interrupting one in process context) and only counts it in
 * recursion_misses; its twin below sees the depth and counts exactly those events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} retransmit_depth SEC(".maps");

static __always_inline bool fill_key_common(const struct sock_common *skc, __u16 lport, struct ml_flow_key *key)
{
	__u16 family = BPF_CORE_READ(skc, skc_family);
	__u32 netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);

	if (target_netns && netns != target_netns)
		return false;
	/* only IP sockets have a 4-tuple */
	if (family == MESHLENS_AF_INET) {
		bpf_core_read(key->laddr, 4, &skc->skc_rcv_saddr);
		bpf_core_read(key->raddr, 4, &skc->skc_daddr);
	} else if (family == MESHLENS_AF_INET6) {
		bpf_core_read(key->laddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(key->raddr, 16, &skc->skc_v6_daddr);
	} else {
		return false;
	}
	key->family = family;
	key->lport = lport;
	key->rport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	key->netns = netns;
	return true;
}

static __always_inline bool fill_key(const struct sock *sk, struct ml_flow_key *key)
{
	/* inet_sport, not skc_num: tcp_set_state(TCP_CLOSE) zeroes skc_num before the state tracepoint fires */
	__u16 lport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));

	return fill_key_common(&sk->__sk_common, lport, key);
}

static __always_inline struct ml_flow_counts *lookup_or_init(const struct ml_flow_key *key)
{
	static const struct ml_flow_counts zero = {};
	struct ml_flow_counts *stats;
	long err;

	stats = bpf_map_lookup_elem(&flows, key);
	if (stats)
		return stats;
	err = bpf_map_update_elem(&flows, key, &zero, BPF_NOEXIST);
	if (err == 0)
		__sync_fetch_and_add(&counters.flows_created, 1);
	else if (err != -17 /* EEXIST: another CPU inserted it first */)
		__sync_fetch_and_add(&counters.map_full_drops, 1);
	return bpf_map_lookup_elem(&flows, key);
}

static __always_inline void sample_tcp_sock(const struct sock *sk, struct ml_flow_counts *stats)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	/* latest values win; a racing writer stores an equally valid sample */
	stats->segs_out = BPF_CORE_READ(tp, segs_out);
	stats->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
}

/* Where counting starts for a socket the flow entry has not followed yet. */
enum total_baseline {
	BASELINE_ZERO,    /* born under the collector (active open): all its retransmits count */
	BASELINE_CURRENT, /* everything up to now is counted elsewhere (SYN-ACKs) or predates the collector */
};

/* Follows tcp_sock.total_retrans into sock_retrans. Retransmits and state changes of one socket are serialised by
 * the socket lock, so the read-compare-store needs no atomics; sock_retrans is added to atomically because another
 * socket with the same 4-tuple may be mid-close on another CPU. `uncounted` is how much of total_retrans a new
 * socket's baseline must still include (the segments of the retransmit being traced, already added by the kernel). */
static __always_inline void follow_total_retrans(const struct sock *sk, struct ml_flow_counts *stats,
						 enum total_baseline baseline, __u64 uncounted)
{
	__u64 total = BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans);
	__u64 id = (__u64)(unsigned long)sk;

	if (stats->sock_id != id) {
		stats->sock_id = id;
		if (baseline == BASELINE_ZERO)
			stats->sock_total = 0;
		else
			stats->sock_total = total >= uncounted ? total - uncounted : 0;
	}
	if (total > stats->sock_total) {
		__sync_fetch_and_add(&stats->sock_retrans, total - stats->sock_total);
		stats->sock_total = total;
	}
}

static __always_inline int retrans_cause(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);
	__u8 pending, ca_state;

	if (state == TCP_SYN_SENT || state == TCP_SYN_RECV)
		return CAUSE_SYN;
	/* the loss-probe timer stays pending while tcp_send_loss_probe retransmits */
	pending = BPF_CORE_READ(icsk, icsk_pending);
	if (pending == ICSK_TIME_LOSS_PROBE)
		return CAUSE_TLP;
	ca_state = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	if (ca_state == TCP_CA_Loss)
		return CAUSE_RTO;
	if (ca_state == TCP_CA_Recovery || ca_state == TCP_CA_CWR || ca_state == TCP_CA_Disorder)
		return CAUSE_FAST;
	return CAUSE_OTHER;
}

static __always_inline int handle_retransmit(const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct ml_flow_key key = {};
	struct ml_flow_counts *stats;
	struct tcp_skb_cb *tcb;
	__u64 segs;
	int cause;

	if (!sk || !fill_key(sk, &key))
		return 0;
	/* newer kernels also trace retransmits that failed; count those apart, like TCPRetransFail */
	if (err != 0) {
		__sync_fetch_and_add(&counters.retrans_failed, 1);
		return 0;
	}
	stats = lookup_or_init(&key);
	if (!stats)
		return 0;
	/* tcp_skb_pcount(): GSO segments in this skb, what TcpRetransSegs adds */
	tcb = (struct tcp_skb_cb *)&skb->cb[0];
	segs = BPF_CORE_READ(tcb, tcp_gso_segs);
	if (segs == 0)
		segs = 1;
	cause = retrans_cause(sk);
	/* a handshake still retransmitting tells the direction of a connection that has not opened yet */
	if (cause == CAUSE_SYN && !(stats->flags & FLOW_DIRECTION))
		stats->flags |= BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_SYN_SENT ? FLOW_OUTBOUND : FLOW_INBOUND;
	/* __tcp_retransmit_skb adds the segments to total_retrans before this tracepoint fires */
	follow_total_retrans(sk, stats, BASELINE_CURRENT, segs);
	__sync_fetch_and_add(&stats->retrans_segs, segs);
	if (cause >= 0 && cause < CAUSE_MAX)
		__sync_fetch_and_add(&stats->events[cause], 1);
	sample_tcp_sock(sk, stats);
	return 0;
}

/* A SYN-ACK retransmitted for a request socket: TcpRetransSegs counts it, and the child socket's total_retrans
 * starts from it, so it belongs to the same flow (same 4-tuple and netns) as the connection it becomes. */
static __always_inline int handle_synack(const struct request_sock *req)
{
	const struct sock_common *skc = (const struct sock_common *)req;
	struct ml_flow_key key = {};
	struct ml_flow_counts *stats;

	/* request sockets have no inet_sport; ir_num (skc_num) is the local port */
	if (!req || !fill_key_common(skc, BPF_CORE_READ(skc, skc_num), &key))
		return 0;
	stats = lookup_or_init(&key);
	if (!stats)
		return 0;
	if (!(stats->flags & FLOW_DIRECTION))
		stats->flags |= FLOW_INBOUND;
	__sync_fetch_and_add(&stats->retrans_segs, 1);
	__sync_fetch_and_add(&stats->synack_segs, 1);
	__sync_fetch_and_add(&stats->events[CAUSE_SYN], 1);
	return 0;
}

static __always_inline int handle_state_change(const struct sock *sk, int oldstate, int newstate)
{
	struct ml_flow_key key = {};
	struct ml_flow_counts *stats;

	if (!sk || !fill_key(sk, &key))
		return 0;
	if (newstate == TCP_ESTABLISHED && (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)) {
		stats = lookup_or_init(&key);
		if (!stats)
			return 0;
		stats->open_ns = bpf_ktime_get_ns();
		stats->close_ns = 0;
		stats->flags = FLOW_OPENED | (oldstate == TCP_SYN_SENT ? FLOW_OUTBOUND : FLOW_INBOUND);
		/* a passive child's total_retrans starts at its SYN-ACK retransmits, which synack_segs already has */
		follow_total_retrans(sk, stats, oldstate == TCP_SYN_SENT ? BASELINE_ZERO : BASELINE_CURRENT, 0);
		sample_tcp_sock(sk, stats);
		__sync_fetch_and_add(&counters.active_connections, 1);
		return 0;
	}
	stats = bpf_map_lookup_elem(&flows, &key);
	if (!stats)
		return 0;
	/* FIN states and CLOSE come after the socket's last retransmits: catch up on any whose events were skipped */
	if (stats->sock_id == (__u64)(unsigned long)sk)
		follow_total_retrans(sk, stats, BASELINE_CURRENT, 0);
	if (newstate != TCP_CLOSE)
		return 0;
	/* closes of connections opened before the collector started carry no lifetime; skip them */
	if (!(stats->flags & FLOW_OPENED) || (stats->flags & FLOW_CLOSED))
		return 0;
	stats->close_ns = bpf_ktime_get_ns();
	sample_tcp_sock(sk, stats);
	/* before the flag: a loader that sees the flow closed then reads a gauge that already excludes it */
	__sync_fetch_and_add(&counters.active_connections, -1);
	stats->flags |= FLOW_CLOSED; /* state changes run under the socket lock */
	return 0;
}

/* Every segment received on an established socket: keeps segs_out and srtt of every live flow current, so an interval's
 * sent segments (the retransmit ratio's denominator) are that interval's own and not everything since the flow's
 * previous retransmit. tcp_rcv_established runs under the socket lock, serialised with that socket's retransmits and
 * state changes, so the plain stores need no atomics. A flow first seen here predates the collector (or was evicted):
 * its first sample is only the baseline the loader's next delta starts from. */
static __always_inline int handle_probe(const struct sock *sk)
{
	struct ml_flow_key key = {};
	struct ml_flow_counts *stats;

	if (!sk || !fill_key(sk, &key))
		return 0;
	stats = lookup_or_init(&key);
	if (!stats)
		return 0;
	sample_tcp_sock(sk, stats);
	return 0;
}

static __always_inline int btf_retransmit_err(unsigned long long *ctx)
{
	/* the err argument exists exactly when the tracepoint's event record has it */
	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err))
		return (int)ctx[2];
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(btf_tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&retransmit_depth, &zero);

	if (depth)
		(*depth)++;
	handle_retransmit(sk, skb, btf_retransmit_err(ctx));
	if (depth)
		(*depth)--;
	return 0;
}

/* Attached after btf_tcp_retransmit_skb, so it runs for every event too; it counts only while that program is
 * mid-run on this CPU, i.e. for exactly the events the kernel skipped it for (a separate program has its own
 * recursion guard). What remains uncounted is an interrupt landing in the few instructions between the kernel's guard
 * and the depth update; the loader reports those as missed_events. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(btf_tcp_retransmit_skb_nested, const struct sock *sk, const struct sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&retransmit_depth, &zero);

	if (!depth || *depth == 0)
		return 0;
	__sync_fetch_and_add(&counters.nested_retransmits, 1);
	return handle_retransmit(sk, skb, btf_retransmit_err(ctx));
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(btf_tcp_retransmit_synack, const struct sock *listener, const struct request_sock *req)
{
	return handle_synack(req);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(btf_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	return handle_state_change(sk, oldstate, newstate);
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(btf_tcp_probe, const struct sock *sk, const struct sk_buff *skb)
{
	return handle_probe(sk);
}

SEC("tp/tcp/tcp_probe")
int tp_tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	/* older kernels' records carry only the addresses, no socket to sample from (CO-RE tells which) */
	if (!bpf_core_field_exists(ctx->skaddr))
		return 0;
	return handle_probe((const struct sock *)BPF_CORE_READ(ctx, skaddr));
}

SEC("tp/tcp/tcp_retransmit_skb")
int tp_tcp_retransmit_skb(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	int err = 0;

	if (bpf_core_field_exists(ctx->err))
		err = BPF_CORE_READ(ctx, err);
	return handle_retransmit((const struct sock *)BPF_CORE_READ(ctx, skaddr),
				 (const struct sk_buff *)BPF_CORE_READ(ctx, skbaddr), err);
}

SEC("tp/tcp/tcp_retransmit_synack")
int tp_tcp_retransmit_synack(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	return handle_synack((const struct request_sock *)BPF_CORE_READ(ctx, req));
}

SEC("tp/sock/inet_sock_set_state")
int tp_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	return handle_state_change((const struct sock *)BPF_CORE_READ(ctx, skaddr), BPF_CORE_READ(ctx, oldstate),
				   BPF_CORE_READ(ctx, newstate));
}
