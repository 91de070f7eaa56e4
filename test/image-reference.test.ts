import { parseImageReference, referenceString, repositoryOf } from '../storage/image-reference';
import { InvalidArgumentError } from '../system/errors';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('parseImageReference', () => {
  test.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest'],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost/team/app:v1', 'localhost/team/app:v1'],
    ['127.0.0.1:5000/a/b/c:1.0-rc_1', '127.0.0.1:5000/a/b/c:1.0-rc_1'],
    ['ghcr.io/org/my-app__x.y:V1', 'ghcr.io/org/my-app__x.y:V1'],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    [`quay.io/a/b:1.0@${DIGEST}`, `quay.io/a/b:1.0@${DIGEST}`],
    // Without "." or ":" or "localhost", the first component is a Docker Hub namespace.
    ['myhost/app', 'docker.io/myhost/app:latest'],
    // "name:port" without a path is a tag, not a registry.
    ['localhost:5000', 'docker.io/library/localhost:5000'],
  ])('%s -> %s', (input, expected) => {
    expect(referenceString(parseImageReference(input))).toBe(expected);
  });

  test('splits into domain, path, tag and digest', () => {
    expect(parseImageReference('busybox')).toEqual({ domain: 'docker.io', path: 'library/busybox', tag: 'latest', digest: undefined });
    expect(parseImageReference(`example.com:8443/a/b@${DIGEST}`)).toEqual({ domain: 'example.com:8443', path: 'a/b', tag: undefined, digest: DIGEST });
    expect(repositoryOf(parseImageReference('busybox:1'))).toBe('docker.io/library/busybox');
  });

  test.each([
    ['', 'empty'],
    ['Busybox', 'lowercase'],
    ['docker.io/Library/busybox', 'lowercase'],
    ['busybox:', 'invalid tag ""'],
    ['busybox:-x', 'invalid tag "-x"'],
    [`busybox:${'t'.repeat(129)}`, 'invalid tag'],
    ['busybox:a/b', 'invalid registry host "busybox:a"'],
    ['a//b', 'empty path component'],
    ['/busybox', 'empty path component'],
    ['busy box', 'invalid path component "busy box"'],
    ['app-', 'invalid path component "app-"'],
    ['busybox@sha256:abc', '64 lowercase hex'],
    [`busybox@sha256:${'AB'.repeat(32)}`, '64 lowercase hex'],
    [`busybox@sha512:${'ab'.repeat(64)}`, 'unsupported digest algorithm "sha512"'],
    ['busybox@latest', 'malformed digest "latest"'],
    ['busybox@', 'malformed digest ""'],
    ['exa_mple.com/app', 'invalid registry host "exa_mple.com"'],
    ['ab'.repeat(32), 'image ID'],
    [`example.com/${'a'.repeat(250)}`, 'longer than 255'],
  ])('refuses %j (%s)', (input, why) => {
    let caught: unknown;
    try {
      parseImageReference(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as Error).message).toContain(`invalid image reference "${input}": `);
    expect((caught as Error).message).toContain(why);
  });
});
