// Where the pod's shared directory appears inside the guest (the agent mounts it there).
export const GUEST_SHARED_DIR = '/run/podvisor/shared';

// Where the agent keeps the pod's volumes that live in the guest only (ephemeral/NAME, local/NAME).
export const GUEST_VOLUMES_DIR = '/run/podvisor/volumes';

// The pod's /dev/shm, a tmpfs the agent makes in the guest for all the pod's containers.
export const GUEST_POD_SHM = '/run/podvisor/shm';

// The pod's hosts, resolv.conf and hostname, written by the agent into the guest's own files.
export const GUEST_POD_FILES = '/run/podvisor/pod';

/** Paths in the guest that the agent makes: a container's spec names them as they are. */
export const GUEST_LOCAL_PATHS = [GUEST_POD_SHM, GUEST_POD_FILES];

// The pod's PID namespace in the guest, for a pod whose containers share one.
export const GUEST_POD_PID_NS = '/run/podvisor/pod-pid-ns';
