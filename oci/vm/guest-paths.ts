// Where the pod's shared directory appears inside the guest (the agent mounts it there).
export const GUEST_SHARED_DIR = '/run/podvisor/shared';

/** The subdirectory of the shared directory that holds the pod's hosts, resolv.conf and hostname. */
export const POD_FILES_SHARE = 'pod';
