// SPDX-License-Identifier: Apache-2.0
/* Prints format_interval() output for fixed inputs; test/bpf/format.test.ts parses and checks every field. */
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "retrans.h"

int main(void)
{
	struct ml_flow_delta flows[2] = {};
	struct ml_interval_report r = {
		.seq = 7, .ts_ms = 1700000000123, .interval_ms = 1000, .attach = "tp_btf", .active_connections = -1,
		.map_full_drops = 2, .evicted_flows = 3, .retrans_failed = 4, .flows_tracked = 5, .missed_events = 6,
	};
	const __u8 v4l[4] = { 10, 0, 0, 1 }, v4r[4] = { 10, 0, 0, 2 };
	const __u8 v6l[16] = { 0xfd, 0, [15] = 1 }, v6r[16] = { 0xfd, 0, [14] = 0xab, [15] = 0xcd };
	struct ml_flow_delta unknown;
	char buf[4096], small[64];
	int i;

	flows[0].key.netns = 4026531840u;
	flows[0].key.family = MESHLENS_AF_INET;
	flows[0].key.lport = 40000;
	flows[0].key.rport = 8080;
	memcpy(flows[0].key.laddr, v4l, 4);
	memcpy(flows[0].key.raddr, v4r, 4);
	flows[0].retrans_segs = 12;
	for (i = 0; i < CAUSE_MAX; i++)
		flows[0].events[i] = (uint64_t)i + 1;
	flows[0].segs_out = 9007199254740991ull;
	flows[0].srtt_us = 250;
	flows[0].opened = true;
	flows[0].direction = DIRECTION_OUTBOUND;

	flows[1].key.netns = 1;
	flows[1].key.family = MESHLENS_AF_INET6;
	flows[1].key.lport = 1;
	flows[1].key.rport = 65535;
	memcpy(flows[1].key.laddr, v6l, 16);
	memcpy(flows[1].key.raddr, v6r, 16);
	flows[1].closed = true;
	flows[1].duration_us = 1500000;
	flows[1].direction = DIRECTION_INBOUND;

	if (format_interval(buf, sizeof(buf), &r, flows, 2) < 0)
		return 1;
	fputs(buf, stdout);
	/* too small a buffer must fail rather than print a truncated line */
	printf("small=%d\n", format_interval(small, sizeof(small), &r, flows, 2));
	unknown = flows[0];
	unknown.direction = DIRECTION_UNKNOWN;
	if (format_interval(buf, sizeof(buf), &r, &unknown, 1) < 0)
		return 1;
	fputs(buf, stdout);
	flows[0].key.family = 99;
	printf("badfamily=%d\n", format_interval(buf, sizeof(buf), &r, flows, 1));
	return 0;
}
