// The stream protocol names clients offer and which of them this server speaks.

/** Exec/attach over SPDY, best first (X-Stream-Protocol-Version). v5 adds nothing over v4 on SPDY. */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
export const SPDY_PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io'];

/** Exec/attach over WebSocket (Sec-WebSocket-Protocol); "" is a client that names none. */
export const WS_REMOTE_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io', ''];
export const WS_PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', ''];

/** The first protocol the client offers that the server speaks (the client's order wins). */
export function negotiate(offered: string[], supported: string[]): string | undefined {
  return offered.find((protocol) => supported.includes(protocol));
}

/** Protocols from v4 on report the outcome as a JSON Status; older ones as plain text. */
export function statusIsJson(protocol: string): boolean {
  return /^v[4-9]\./.test(protocol);
}

/** Terminal resizing arrived with v3. */
export function supportsResize(protocol: string): boolean {
  return /^v[3-9]\./.test(protocol);
}

export function isBase64(protocol: string): boolean {
  return protocol.includes('base64.');
}

/** v5 lets a WebSocket client close one channel (its stdin) with a CLOSE message. */
export function supportsCloseSignal(protocol: string): boolean {
  return protocol === 'v5.channel.k8s.io';
}
