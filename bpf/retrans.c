// SPDX-License-Identifier: Apache-2.0
/* meshlens retransmit collector loader: opens the skeleton, configures it, loads, attaches one flavour of programs
 * (tp_btf, or classic tracepoints where BTF tracepoints are missing), and prints one NDJSON line of per-flow deltas
 * per interval on stdout. Diagnostics go to stderr. */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "retrans.h"
#include "retrans.skel.h"

enum attach_mode { ATTACH_AUTO, ATTACH_TP_BTF, ATTACH_TRACEPOINT };

static struct env {
	long interval_ms;
	long max_flows;
	long intervals; /* 0 = run until signalled */
	unsigned long netns;
	enum attach_mode attach;
	bool verbose;
} env = {
	.interval_ms = 1000,
	.max_flows = 16384,
	.attach = ATTACH_AUTO,
};

static volatile sig_atomic_t exiting;

const char *argp_program_version = "meshlens-retrans 0.1";
static const char argp_doc[] = "Per-flow TCP retransmit collector; prints one NDJSON line per interval.\n"
			       "\nUSAGE: retrans [-i MS] [-m FLOWS] [-n NETNS_INODE] [-a auto|tp_btf|tracepoint] [-v]";

static const struct argp_option opts[] = {
	{ "interval", 'i', "MS", 0, "Report interval in milliseconds (10..3600000, default 1000)", 0 },
	{ "max-flows", 'm', "FLOWS", 0, "Flow map capacity (16..16777216, default 16384)", 0 },
	{ "count", 'c', "N", 0, "Exit after N intervals (default: run until SIGINT/SIGTERM)", 0 },
	{ "netns", 'n', "INODE", 0, "Only count sockets in this network namespace inode", 0 },
	{ "attach", 'a', "MODE", 0, "auto (default), tp_btf or tracepoint", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose libbpf debug output", 0 },
	{},
};

static int parse_number(const char *arg, const char *name, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "invalid argument: %s must be an integer in [%ld, %ld], got '%s'\n", name, min, max, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	long v;

	switch (key) {
	case 'i':
		if (parse_number(arg, "interval", 10, 3600000, &env.interval_ms))
			argp_usage(state);
		break;
	case 'm':
		if (parse_number(arg, "max-flows", 16, 1 << 24, &env.max_flows))
			argp_usage(state);
		break;
	case 'c':
		if (parse_number(arg, "count", 1, LONG_MAX, &env.intervals))
			argp_usage(state);
		break;
	case 'n':
		if (parse_number(arg, "netns", 1, UINT32_MAX, &v))
			argp_usage(state);
		env.netns = (unsigned long)v;
		break;
	case 'a':
		if (!strcmp(arg, "auto"))
			env.attach = ATTACH_AUTO;
		else if (!strcmp(arg, "tp_btf"))
			env.attach = ATTACH_TP_BTF;
		else if (!strcmp(arg, "tracepoint"))
			env.attach = ATTACH_TRACEPOINT;
		else {
			fprintf(stderr, "invalid argument: attach must be auto, tp_btf or tracepoint, got '%s'\n", arg);
			argp_usage(state);
		}
		break;
	case 'v':
		env.verbose = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *format, va_list args)
{
	if (level == LIBBPF_DEBUG && !env.verbose)
		return 0;
	return vfprintf(stderr, format, args);
}

static void sig_handler(int sig)
{
	exiting = 1;
}

/* A BTF tracepoint exists when vmlinux BTF has its btf_trace_<name> typedef; that is what libbpf resolves. */
static bool tp_btf_exists(const char *name)
{
	return libbpf_find_vmlinux_btf_id(name, BPF_TRACE_RAW_TP) > 0;
}

static bool tracepoint_exists(const char *category, const char *event)
{
	static const char *roots[] = { "/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events" };
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", roots[i], category, event);
		if (!stat(path, &st))
			return true;
	}
	return false;
}

/* Whether a classic tracepoint's record has a field (its format file lists "field:<type> <name>;"). */
static bool tracepoint_has_field(const char *category, const char *event, const char *field)
{
	static const char *roots[] = { "/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events" };
	char path[PATH_MAX], line[512], needle[128];
	bool found = false;
	size_t i;

	snprintf(needle, sizeof(needle), " %s;", field);
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]) && !found; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s/%s/format", roots[i], category, event);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			found = strstr(line, "field:") && strstr(line, needle);
		fclose(f);
	}
	return found;
}

/* Previous interval's cumulative values, keyed like the kernel map. Rebuilt every interval, so no deletions. */
struct seen {
	struct ml_flow_key key;
	struct ml_flow_counts counts;
	bool used;
};

struct seen_table {
	struct seen *slots;
	size_t cap; /* power of two, at least twice the flow map capacity */
};

static size_t key_hash(const struct ml_flow_key *key)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < sizeof(*key); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (size_t)h;
}

static struct seen *seen_slot(struct seen_table *t, const struct ml_flow_key *key)
{
	size_t i = key_hash(key) & (t->cap - 1);

	while (t->slots[i].used && memcmp(&t->slots[i].key, key, sizeof(*key)))
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

static uint64_t sub_or_zero(uint64_t cur, uint64_t prev)
{
	return cur >= prev ? cur - prev : cur;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_interval(void)
{
	struct timespec ts = { .tv_sec = env.interval_ms / 1000, .tv_nsec = (env.interval_ms % 1000) * 1000000L };

	/* a signal interrupts the sleep, which is how SIGTERM ends the loop promptly */
	nanosleep(&ts, NULL);
}

struct collector {
	struct retrans_bpf *skel;
	const char *attach;
	bool probe; /* segs_out and srtt sampled on every received segment (tcp_probe) */
	struct seen_table prev, next;
	struct ml_flow_delta *deltas;
	struct ml_flow_key *keys;
	size_t keys_cap;
	char *line;
	size_t line_len;
	uint64_t deleted;          /* flows the loader removed after reporting their close */
	uint64_t evicted_reported; /* evicted flows reported so far */
	uint64_t drops_reported;
	uint64_t failed_reported;
	uint64_t missed_reported;
	uint64_t seq;
};

/* Events the kernel skipped our programs for and nothing counted (classic tracepoints are not run while another BPF
 * program or a BPF map syscall holds this CPU's bpf_prog_active; tp_btf programs only skip true recursion, and the
 * nested twin counts most of those: the caller subtracts what it counted). The twin's own skips are not losses: it is only skipped while it runs, which is
 * after the main handler finished that CPU's event, so the interrupting event had the main handler. The segs_out
 * sampler is left out too: a skipped sample loses nothing, the flow's next one reads the same cumulative counters. */
static uint64_t recursion_misses(const struct retrans_bpf *skel)
{
	struct bpf_program *progs[] = {
		skel->progs.btf_tcp_retransmit_skb, skel->progs.btf_tcp_retransmit_synack,
		skel->progs.btf_inet_sock_set_state, skel->progs.tp_tcp_retransmit_skb,
		skel->progs.tp_tcp_retransmit_synack, skel->progs.tp_inet_sock_set_state,
	};
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(progs[i]);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			total += info.recursion_misses;
	}
	return total;
}

/* Retransmitted segments from the kernel's own per-socket count (plus SYN-ACKs, which no tcp_sock has), so events
 * the programs were skipped for are still counted once the socket is next seen. The traced sum stays the floor for
 * a socket whose earlier retransmits predate the entry. Both are cumulative, so their max is too. */
static uint64_t exact_retrans_segs(const struct ml_flow_counts *c)
{
	uint64_t from_sockets = c->sock_retrans + c->synack_segs;

	return from_sockets > c->retrans_segs ? from_sockets : c->retrans_segs;
}

/* Turns one flow's cumulative kernel values into this interval's deltas; returns whether anything changed. */
static bool flow_delta(const struct ml_flow_counts *cur, const struct seen *prev, struct ml_flow_delta *d)
{
	static const struct ml_flow_counts zero = {};
	const struct ml_flow_counts *p = prev->used ? &prev->counts : &zero;
	bool changed;
	int i;

	d->retrans_segs = sub_or_zero(exact_retrans_segs(cur), exact_retrans_segs(p));
	changed = d->retrans_segs != 0;
	for (i = 0; i < CAUSE_MAX; i++) {
		d->events[i] = sub_or_zero(cur->events[i], p->events[i]);
		changed |= d->events[i] != 0;
	}
	/* segs_out is the kernel's cumulative count: without an earlier sample, only flows opened under the
	 * collector have a known baseline (zero) */
	if (prev->used && p->segs_out)
		d->segs_out = sub_or_zero(cur->segs_out, p->segs_out);
	else
		d->segs_out = (cur->flags & FLOW_OPENED) ? cur->segs_out : 0;
	changed |= d->segs_out != 0;
	d->srtt_us = cur->srtt_us;
	d->opened = (cur->flags & FLOW_OPENED) && !(p->flags & FLOW_OPENED);
	d->closed = (cur->flags & FLOW_CLOSED) && !(p->flags & FLOW_CLOSED);
	d->direction = (cur->flags & FLOW_OUTBOUND) ? DIRECTION_OUTBOUND :
		       (cur->flags & FLOW_INBOUND)  ? DIRECTION_INBOUND :
						      DIRECTION_UNKNOWN;
	d->duration_us = d->closed && cur->open_ns && cur->close_ns >= cur->open_ns ?
				 (cur->close_ns - cur->open_ns) / 1000 :
				 0;
	return changed || d->opened || d->closed;
}

static int collect_interval(struct collector *c)
{
	int map_fd = bpf_map__fd(c->skel->maps.flows);
	struct ml_collector_counters counters = c->skel->bss->counters;
	struct ml_interval_report r = {};
	struct ml_flow_counts cur;
	struct seen_table tmp;
	size_t nflows = 0, nkeys = 0, i;
	uint64_t live = 0, evicted_total, missed, nested;
	void *prev_key = NULL;
	int len;

	memset(c->next.slots, 0, c->next.cap * sizeof(*c->next.slots));
	/* collect keys first: deleting the current key mid-walk makes get_next_key restart from the first key */
	while (nkeys < c->keys_cap && bpf_map_get_next_key(map_fd, prev_key, &c->keys[nkeys]) == 0) {
		prev_key = &c->keys[nkeys];
		nkeys++;
	}
	for (i = 0; i < nkeys; i++) {
		const struct ml_flow_key *key = &c->keys[i];
		struct ml_flow_delta *d = &c->deltas[nflows];
		struct seen *prev, *slot;

		if (bpf_map_lookup_elem(map_fd, key, &cur))
			continue; /* evicted since the walk */
		live++;
		prev = seen_slot(&c->prev, key);
		memset(d, 0, sizeof(*d));
		d->key = *key;
		if (flow_delta(&cur, prev, d))
			nflows++;
		if (cur.flags & FLOW_CLOSED) {
			/* reported (now or before): free the slot for live flows */
			if (!bpf_map_delete_elem(map_fd, key)) {
				c->deleted++;
				live--;
			}
			continue;
		}
		slot = seen_slot(&c->next, key);
		slot->key = *key;
		slot->counts = cur;
		slot->used = true;
	}
	tmp = c->prev;
	c->prev = c->next;
	c->next = tmp;

	evicted_total = counters.flows_created >= c->deleted + live ? counters.flows_created - c->deleted - live : 0;
	if (evicted_total < c->evicted_reported)
		evicted_total = c->evicted_reported;
	r.seq = ++c->seq;
	r.ts_ms = wall_ms();
	r.interval_ms = (uint64_t)env.interval_ms;
	r.attach = c->attach;
	/* after the walk: every close it saw is already in the gauge */
	r.active_connections = __atomic_load_n(&c->skel->bss->counters.active_connections, __ATOMIC_ACQUIRE);
	r.map_full_drops = counters.map_full_drops - c->drops_reported;
	r.evicted_flows = evicted_total - c->evicted_reported;
	r.retrans_failed = counters.retrans_failed - c->failed_reported;
	r.flows_tracked = live;
	missed = recursion_misses(c->skel);
	/* read after the misses: a miss the twin rescues is counted as a miss first */
	nested = __atomic_load_n(&c->skel->bss->counters.nested_retransmits, __ATOMIC_RELAXED);
	missed = missed >= nested ? missed - nested : 0;
	/* a rescue landing between the two reads lowers the figure for a moment; never report a negative delta */
	if (missed < c->missed_reported)
		missed = c->missed_reported;
	r.missed_events = missed - c->missed_reported;
	c->missed_reported = missed;
	c->drops_reported = counters.map_full_drops;
	c->evicted_reported = evicted_total;
	c->failed_reported = counters.retrans_failed;

	len = format_interval(c->line, c->line_len, &r, c->deltas, nflows);
	if (len < 0) {
		fprintf(stderr, "output line exceeds %zu bytes; interval %" PRIu64 " dropped\n", c->line_len, r.seq);
		return -ENOSPC;
	}
	fwrite(c->line, 1, (size_t)len, stdout);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { .options = opts, .parser = parse_arg, .doc = argp_doc };
	struct collector c = {};
	bool use_btf;
	size_t cap = 1;
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return err;
	libbpf_set_print(libbpf_print_fn);
	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);

	while (cap < (size_t)env.max_flows * 2)
		cap <<= 1;
	c.prev.cap = c.next.cap = cap;
	c.prev.slots = calloc(cap, sizeof(struct seen));
	c.next.slots = calloc(cap, sizeof(struct seen));
	/* the map holds at most max_flows keys; the margin absorbs inserts racing the walk */
	c.keys_cap = (size_t)env.max_flows + 64;
	c.keys = calloc(c.keys_cap, sizeof(struct ml_flow_key));
	c.deltas = calloc(c.keys_cap, sizeof(struct ml_flow_delta));
	/* worst case per flow is 487 bytes of JSON (IPv6 addresses, every counter at UINT64_MAX) */
	c.line_len = 1024 + c.keys_cap * 560;
	c.line = malloc(c.line_len);
	if (!c.prev.slots || !c.next.slots || !c.keys || !c.deltas || !c.line) {
		fprintf(stderr, "out of memory\n");
		err = -ENOMEM;
		goto cleanup;
	}

	c.skel = retrans_bpf__open();
	if (!c.skel) {
		err = -errno;
		fprintf(stderr, "failed to open BPF object: %s\n", strerror(errno));
		goto cleanup;
	}

	use_btf = env.attach == ATTACH_TP_BTF ||
		  (env.attach == ATTACH_AUTO && tp_btf_exists("tcp_retransmit_skb") &&
		   tp_btf_exists("tcp_retransmit_synack") && tp_btf_exists("inet_sock_set_state"));
	if (!use_btf && !(tracepoint_exists("tcp", "tcp_retransmit_skb") &&
			  tracepoint_exists("tcp", "tcp_retransmit_synack") &&
			  tracepoint_exists("sock", "inet_sock_set_state"))) {
		fprintf(stderr, "neither BTF tracepoints nor tracepoints tcp/tcp_retransmit_skb, tcp/tcp_retransmit_synack "
				"and sock/inet_sock_set_state are available (is tracefs mounted?)\n");
		err = -ENOENT;
		goto cleanup;
	}
	c.attach = use_btf ? "tp_btf" : "tracepoint";
	/* The per-segment sampler is what keeps every live flow's segs_out current each interval; without its tracepoint
	 * the collector still counts retransmits exactly and samples segs_out at retransmits and state changes only, and
	 * says so in its start line ("sampling":"events"). */
	c.probe = use_btf ? tp_btf_exists("tcp_probe") : tracepoint_has_field("tcp", "tcp_probe", "skaddr");
	bpf_program__set_autoload(c.skel->progs.btf_tcp_probe, use_btf && c.probe);
	bpf_program__set_autoload(c.skel->progs.tp_tcp_probe, !use_btf && c.probe);
	bpf_program__set_autoload(c.skel->progs.btf_tcp_retransmit_skb, use_btf);
	bpf_program__set_autoload(c.skel->progs.btf_tcp_retransmit_skb_nested, use_btf);
	bpf_program__set_autoload(c.skel->progs.btf_tcp_retransmit_synack, use_btf);
	bpf_program__set_autoload(c.skel->progs.btf_inet_sock_set_state, use_btf);
	bpf_program__set_autoload(c.skel->progs.tp_tcp_retransmit_synack, !use_btf);
	bpf_program__set_autoload(c.skel->progs.tp_tcp_retransmit_skb, !use_btf);
	bpf_program__set_autoload(c.skel->progs.tp_inet_sock_set_state, !use_btf);
	c.skel->rodata->target_netns = (__u32)env.netns;
	err = bpf_map__set_max_entries(c.skel->maps.flows, (__u32)env.max_flows);
	if (err) {
		fprintf(stderr, "failed to size flow map: %s\n", strerror(-err));
		goto cleanup;
	}

	err = retrans_bpf__load(c.skel);
	if (err) {
		fprintf(stderr, "failed to load BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	err = retrans_bpf__attach(c.skel);
	if (err) {
		fprintf(stderr, "failed to attach BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}

	printf("{\"type\":\"start\",\"attach\":\"%s\",\"sampling\":\"%s\",\"interval_ms\":%ld,\"max_flows\":%ld,"
	       "\"netns\":%lu,\"pid\":%d,\"ts_ms\":%" PRId64 "}\n",
	       c.attach, c.probe ? "tcp_probe" : "events", env.interval_ms, env.max_flows, env.netns, (int)getpid(), wall_ms());
	fflush(stdout);

	while (!exiting) {
		sleep_interval();
		err = collect_interval(&c);
		if (err && err != -ENOSPC)
			break;
		err = 0;
		if (env.intervals && (long)c.seq >= env.intervals)
			break;
	}

cleanup:
	retrans_bpf__destroy(c.skel);
	free(c.prev.slots);
	free(c.next.slots);
	free(c.deltas);
	free(c.keys);
	free(c.line);
	return err < 0 ? -err : err;
}
