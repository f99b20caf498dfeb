// SPDX-License-Identifier: GPL-2.0
/*
 * gate.bpf.c - the acknowledgement gate of a kernel partition (architecture
 * 6d), two tc programs on the service's network device.
 *
 * A kernel acknowledges a client's bytes as they arrive, and the coordinator
 * logs them only when the application reads them.  If the primary's kernel
 * dies in between, the client holds those bytes for delivered and never sends
 * them again, while the new primary's rebuilt connection waits for them.  The
 * same holds for a handshake: once the SYN-ACK has left, the client holds the
 * connection for open, while no record names it yet.  So, on the way out:
 *
 *   - a SYN-ACK from the service address leaves only once its handshake is in
 *     the log: the first one is held (dropped here, its bytes and the client's
 *     SYN put in the ring "held"); the coordinator logs the handshake, admits
 *     it in "caps" with the SYN-ACK's sequence number and sends the same
 *     SYN-ACK again, which then passes;
 *   - any other segment of an admitted connection leaves with its
 *     acknowledgement number lowered to the connection's cap, the first byte
 *     not yet logged, which the coordinator raises after each logged read.
 *
 * On the way in, the client's SYN to the service address is kept (map "syns")
 * for its options, which the SYN-ACK does not repeat; and on a connection a
 * new primary rebuilt, a client's acknowledgement of bytes the dead kernel sent
 * but the log did not have yet (a write performed before its record) is
 * lowered to what this kernel has sent: beyond it, the kernel would drop the
 * segment, the client's data and FIN with it, and the connection would stall
 * until the application wrote those bytes again and they were sent.  IPv4 over Ethernet
 * only: the service address is IPv4.  SACK must be off in the partition's
 * stack (the coordinator sets net.ipv4.tcp_sack=0): a SACK block would tell
 * the client that bytes beyond the cap had arrived.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "gate.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gate_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GATE_CONNECTIONS);
	__type(key, struct gate_key);
	__type(value, struct gate_cap);
} caps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GATE_SYNS);
	__type(key, struct gate_key);
	__type(value, struct gate_syn);
} syns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GATE_HELD_BYTES);
} held SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GATE_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static void count(__u32 which)
{
	__u64 *counter = bpf_map_lookup_elem(&counters, &which);

	if (counter)
		__sync_fetch_and_add(counter, 1);
}

/* The IPv4 and TCP headers of a frame, if it is TCP over IPv4 and not a later fragment. */
static int tcp_headers(struct __sk_buff *skb, struct iphdr *ip, struct tcphdr *tcp, __u32 *tcp_offset)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, ip, sizeof(*ip)) < 0)
		return -1;
	if (ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(0x1fff)) || ip->ihl < 5)
		return -1;
	*tcp_offset = ETH_HLEN + ip->ihl * 4;
	if (bpf_skb_load_bytes(skb, *tcp_offset, tcp, sizeof(*tcp)) < 0)
		return -1;
	return 0;
}

static __u32 service_address(void)
{
	__u32 zero = 0;
	struct gate_config *settings = bpf_map_lookup_elem(&config, &zero);

	return settings ? settings->service_address : 0;
}

/* A TCP segment from (outgoing) or to the service address, and its connection's key as the service sees it. */
static int service_segment(struct __sk_buff *skb, int outgoing, struct iphdr *ip, struct tcphdr *tcp,
			   __u32 *tcp_offset, struct gate_key *key)
{
	__u32 service = service_address();

	if (!service || tcp_headers(skb, ip, tcp, tcp_offset) < 0 || (outgoing ? ip->saddr : ip->daddr) != service)
		return -1;
	key->local_address = service;
	key->peer_address = outgoing ? ip->daddr : ip->saddr;
	key->local_port = outgoing ? tcp->source : tcp->dest;
	key->peer_port = outgoing ? tcp->dest : tcp->source;
	return 0;
}

/* Lower the acknowledgement number to the cap if it is beyond it (sequence space wraps). */
static void clamp(struct __sk_buff *skb, struct gate_cap *cap, __u32 tcp_offset, __u32 ack_wire)
{
	__u32 lowered;

	if ((__s32)(bpf_ntohl(ack_wire) - cap->ack) <= 0)
		return;
	lowered = bpf_htonl(cap->ack);
	if (bpf_l4_csum_replace(skb, tcp_offset + offsetof(struct tcphdr, check), ack_wire, lowered,
				sizeof(lowered)) < 0 ||
	    bpf_skb_store_bytes(skb, tcp_offset + offsetof(struct tcphdr, ack_seq), &lowered, sizeof(lowered), 0) < 0) {
		count(GATE_FAULTS);
		return;
	}
	count(GATE_CLAMPED);
}

/* Put a SYN-ACK whose handshake is not logged yet in the ring, with the client's SYN. */
static void hold(struct __sk_buff *skb, struct gate_key *key, struct iphdr *ip)
{
	struct gate_syn *syn = bpf_map_lookup_elem(&syns, key);
	struct gate_held *handshake;
	__u32 length = bpf_ntohs(ip->tot_len);

	if (!syn) {
		/* Without the client's options nobody could rebuild the connection: its SYN, sent again, will tell. */
		count(GATE_NO_SYN);
		return;
	}
	if (length > sizeof(handshake->packet))
		length = sizeof(handshake->packet);
	if (length < sizeof(struct iphdr) + sizeof(struct tcphdr))
		return;
	handshake = bpf_ringbuf_reserve(&held, sizeof(*handshake), 0);
	if (!handshake) {
		count(GATE_RING_FULL);
		return;
	}
	__builtin_memcpy(handshake->syn, syn->header, sizeof(handshake->syn));
	handshake->syn_length = syn->length;
	handshake->packet_length = length;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, handshake->packet, length) < 0) {
		bpf_ringbuf_discard(handshake, 0);
		count(GATE_FAULTS);
		return;
	}
	bpf_ringbuf_submit(handshake, 0);
	count(GATE_HELD);
}

SEC("tc")
int gate_egress(struct __sk_buff *skb)
{
	struct gate_key key = {};
	struct gate_cap *cap;
	struct tcphdr tcp;
	struct iphdr ip;
	__u32 tcp_offset;

	if (service_segment(skb, 1, &ip, &tcp, &tcp_offset, &key) < 0)
		return TC_ACT_OK;
	cap = bpf_map_lookup_elem(&caps, &key);
	if (tcp.syn && tcp.ack) {
		if (cap && cap->iss == bpf_ntohl(tcp.seq))
			return TC_ACT_OK;
		hold(skb, &key, &ip);
		return TC_ACT_SHOT;
	}
	if (cap && tcp.ack && !tcp.rst)
		clamp(skb, cap, tcp_offset, tcp.ack_seq);
	return TC_ACT_OK;
}

/* Lower a client's acknowledgement to what the local socket has sent, if it is beyond. */
static void clamp_ahead(struct __sk_buff *skb, struct iphdr *ip, struct tcphdr *tcp, __u32 tcp_offset)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_tcp_sock *socket;
	struct bpf_sock *sk;
	__u32 lowered;

	tuple.ipv4.saddr = ip->saddr;
	tuple.ipv4.daddr = ip->daddr;
	tuple.ipv4.sport = tcp->source;
	tuple.ipv4.dport = tcp->dest;
	sk = bpf_sk_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return;
	socket = bpf_tcp_sock(sk);
	if (socket && (__s32)(bpf_ntohl(tcp->ack_seq) - socket->snd_nxt) > 0) {
		lowered = bpf_htonl(socket->snd_nxt);
		if (bpf_l4_csum_replace(skb, tcp_offset + offsetof(struct tcphdr, check), tcp->ack_seq, lowered,
					sizeof(lowered)) < 0 ||
		    bpf_skb_store_bytes(skb, tcp_offset + offsetof(struct tcphdr, ack_seq), &lowered, sizeof(lowered),
					0) < 0)
			count(GATE_FAULTS);
		else
			count(GATE_AHEAD);
	}
	bpf_sk_release(sk);
}

/* Keep a client's SYN for its options. */
static void keep_syn(struct __sk_buff *skb, struct gate_key *key, struct tcphdr *tcp, __u32 tcp_offset)
{
	struct gate_syn syn = {};
	__u32 length = tcp->doff * 4;

	if (length < sizeof(struct tcphdr) || length > sizeof(syn.header))
		return;
	if (bpf_skb_load_bytes(skb, tcp_offset, syn.header, length) < 0)
		return;
	syn.length = length;
	bpf_map_update_elem(&syns, key, &syn, BPF_ANY);
}

SEC("tc")
int gate_ingress(struct __sk_buff *skb)
{
	struct gate_key key = {};
	struct gate_cap *cap;
	struct tcphdr tcp;
	struct iphdr ip;
	__u32 tcp_offset;

	if (service_segment(skb, 0, &ip, &tcp, &tcp_offset, &key) < 0)
		return TC_ACT_OK;
	if (tcp.syn && !tcp.ack) {
		keep_syn(skb, &key, &tcp, tcp_offset);
		return TC_ACT_OK;
	}
	cap = bpf_map_lookup_elem(&caps, &key);
	if (cap && (cap->flags & GATE_REBUILT) && tcp.ack && !tcp.syn && !tcp.rst)
		clamp_ahead(skb, &ip, &tcp, tcp_offset);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
