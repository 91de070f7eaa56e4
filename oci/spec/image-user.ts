import { readFile } from 'node:fs/promises';
import { type LinuxContainerSecurityContext, SupplementalGroupsPolicy } from '../../proto/gen/cri-api-v1';
import { errorCode } from '../../system/error-code';
import { InvalidArgumentError } from '../../system/errors';
import type { OciUser } from './oci-types';
import { resolveInRoot } from './rootfs-path';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const DECIMAL = /^\d+$/;

/** The lines of a colon-separated database in the image, split into fields; none when the file is absent. */
async function readDatabase(rootfs: string, path: string): Promise<string[][]> {
  let text: string;
  try {
    text = await readFile(await resolveInRoot(rootfs, path), 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

async function readPasswd(rootfs: string): Promise<PasswdEntry[]> {
  return (await readDatabase(rootfs, '/etc/passwd'))
    .filter((fields) => fields.length >= 4 && DECIMAL.test(fields[2] ?? '') && DECIMAL.test(fields[3] ?? ''))
    .map(([name = '', , uid = '', gid = '']) => ({ name, uid: Number(uid), gid: Number(gid) }));
}

async function readGroup(rootfs: string): Promise<GroupEntry[]> {
  return (await readDatabase(rootfs, '/etc/group'))
    .filter((fields) => fields.length >= 3 && DECIMAL.test(fields[2] ?? ''))
    .map(([name = '', , gid = '', members = '']) => ({ name, gid: Number(gid), members: members.split(',').filter((member) => member !== '') }));
}

/** A user as far as known: a bare uid has no name and no passwd gid unless /etc/passwd lists it. */
interface Identity {
  uid: number;
  name?: string;
  gid?: number;
}

function byUid(passwd: PasswdEntry[], uid: number): Identity {
  return passwd.find((entry) => entry.uid === uid) ?? { uid };
}

function byName(passwd: PasswdEntry[], name: string, field: string): Identity {
  const found = passwd.find((entry) => entry.name === name);
  if (found === undefined) throw new InvalidArgumentError(`${field} "${name}" is not in the image's /etc/passwd`);
  return found;
}

/** The user and, when it says, the gid that the image's USER names: name, uid, uid:gid, name:group. */
async function imageUser(rootfs: string, spec: string, passwd: PasswdEntry[]): Promise<{ user: Identity; gid?: number }> {
  const [userPart = '', groupPart = ''] = spec.split(':', 2);
  const user = userPart === '' || DECIMAL.test(userPart) ? byUid(passwd, Number(userPart || '0')) : byName(passwd, userPart, 'image user');
  if (groupPart === '') return { user };
  if (DECIMAL.test(groupPart)) return { user, gid: Number(groupPart) };
  const group = (await readGroup(rootfs)).find((entry) => entry.name === groupPart);
  if (group === undefined) throw new InvalidArgumentError(`image group "${groupPart}" is not in the image's /etc/group`);
  return { user, gid: group.gid };
}

export interface UserRequest {
  rootfs: string;
  /** The image config's USER, or "". */
  imageUser: string;
  securityContext: LinuxContainerSecurityContext | undefined;
}

/**
 * Who the container's process runs as. The CRI's run_as_user / run_as_username win over the
 * image's USER and run_as_group over any group; the primary gid otherwise comes from the image's
 * /etc/passwd. The primary gid leads the additional gids, then groups /etc/group lists the user in
 * (unless the Strict policy says only the CRI's list counts), then the CRI's supplemental groups.
 */
export async function resolveUser(request: UserRequest): Promise<OciUser> {
  const context = request.securityContext;
  // A group without a user would pair the image's user with an arbitrary group; the kubelet refuses it too.
  if (context?.runAsGroup !== undefined && context.runAsUser === undefined && context.runAsUsername === '') {
    throw new InvalidArgumentError('run_as_group is set without run_as_user or run_as_username');
  }
  const passwd = await readPasswd(request.rootfs);
  let user: Identity;
  let gid: number | undefined;
  if (context?.runAsUser !== undefined) user = byUid(passwd, Number(context.runAsUser.value));
  else if (context !== undefined && context.runAsUsername !== '') user = byName(passwd, context.runAsUsername, 'run_as_username');
  else ({ user, gid } = await imageUser(request.rootfs, request.imageUser, passwd));
  if (context?.runAsGroup !== undefined) gid = Number(context.runAsGroup.value);
  const primary = gid ?? user.gid ?? 0;

  const strict = context?.supplementalGroupsPolicy === SupplementalGroupsPolicy.Strict;
  const name = user.name;
  const fromImage = strict || name === undefined ? [] : (await readGroup(request.rootfs)).filter((group) => group.members.includes(name)).map((group) => group.gid);
  const fromCri = (context?.supplementalGroups ?? []).map(Number);
  return { uid: user.uid, gid: primary, additionalGids: [...new Set([primary, ...fromImage, ...fromCri])] };
}
