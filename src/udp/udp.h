/* udp: `ferry udp`, a UDP peer that sends and receives datagrams.
 *
 * Listening, it prints each datagram with its sender and sends lines typed
 * on stdin to the most recent sender (or, with echo, answers each datagram
 * with its own bytes). Connected, it sends each stdin line as a datagram
 * and prints the replies, lingering wait_ms for replies after stdin ends. */
#ifndef FERRY_UDP_UDP_H
#define FERRY_UDP_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UDP_MAX_PAYLOAD 65507 /* the most one IPv4 datagram carries */

struct udp_options {
    bool listen;
    const char *bind; /* listening: NULL for every interface */
    uint16_t port;    /* listening: 0 picks one */
    const char *host; /* connected: the peer */
    uint16_t peer_port;
    bool echo;
    int wait_ms;          /* connected: linger for replies after stdin ends */
    const char *wire_charset; /* NULL: bytes as they are; "GBK": convert from/to UTF-8 */
    size_t recv_max;      /* receive buffer; a longer datagram is reported truncated */
    int in_fd, out_fd, err_fd;
};

void udp_options_default(struct udp_options *o);

/* Runs until stdin ends (connected, after the wait) or *stop becomes true.
 * When listening, calls ready(addr) once bound. Returns 0; 1 when a
 * datagram could not be delivered (ICMP unreachable); or -errno with *what
 * naming the failed step. */
int udp_run(const struct udp_options *o, volatile int *stop, void (*ready)(const char *addr),
            const char **what);

#endif
