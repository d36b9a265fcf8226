import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanPath, DEFAULT_SETTINGS, readSettings, runtimeSettings } from '../../src/store/env-settings.js';
import { applyChange, parsePublish, parseVolume } from '../../src/store/settings-change.js';
import { bindsFstab } from '../../src/runtime/mount-plan.js';
import { VenvError } from '../../src/errors.js';

describe('volume paths', () => {
  test('absolute paths in normal form are kept; "..", control characters and colons are not', () => {
    assert.equal(cleanPath('/a//b/./c/'), '/a/b/c');
    assert.equal(cleanPath('/'), '/');
    assert.equal(cleanPath('/with space/ü'), '/with space/ü');
    for (const bad of ['a/b', '', '/a/../b', '/..', '/a\tb', '/a\nb', '/a:b', `/${'x'.repeat(5000)}`])
      assert.equal(cleanPath(bad), undefined, JSON.stringify(bad));
  });

  test('HOST:ENV[:ro|:rw]', () => {
    assert.deepEqual(parseVolume('/h:/e'), { host: '/h', env: '/e', readOnly: false });
    assert.deepEqual(parseVolume('/h/:/e/:ro'), { host: '/h', env: '/e', readOnly: true });
    assert.deepEqual(parseVolume('/h:/e:rw'), { host: '/h', env: '/e', readOnly: false });
    for (const bad of ['/h', '/h:/e:ro:x', '/h:/e:RO', 'h:/e', '/h:e', '/h:/../e', ':/e'])
      assert.throws(() => parseVolume(bad), VenvError, bad);
  });
});

describe('changing settings', () => {
  test('volumes are added, replaced at the same env path, removed, and kept in path order', () => {
    let settings = applyChange(DEFAULT_SETTINGS, { volumes: ['/h1:/z', '/h2:/a'] });
    assert.deepEqual(
      settings.volumes.map((v) => v.env),
      ['/a', '/z'],
    );
    settings = applyChange(settings, { volumes: ['/h3:/a:ro'] });
    assert.deepEqual(settings.volumes, [
      { host: '/h3', env: '/a', readOnly: true },
      { host: '/h1', env: '/z', readOnly: false },
    ]);
    settings = applyChange(settings, { removeVolumes: ['/z/'] });
    assert.deepEqual(settings.volumes, [{ host: '/h3', env: '/a', readOnly: true }]);
    assert.throws(() => applyChange(settings, { removeVolumes: ['/nothing'] }), /no volume at/);
  });

  test('a volume in a shared /home is refused, and allowed once /home is private', () => {
    assert.throws(() => applyChange(DEFAULT_SETTINGS, { volumes: ['/h:/home/x'] }), /\/home is the host's/);
    const settings = applyChange(DEFAULT_SETTINGS, { volumes: ['/h:/home/x'], share: 'tmp,run' });
    assert.deepEqual(settings.share, ['tmp', 'run']);
    assert.throws(() => applyChange(settings, { share: 'all' }), /\/home is the host's/);
  });

  test('share lists come out in one order, without repeats', () => {
    assert.deepEqual(applyChange(DEFAULT_SETTINGS, { share: 'run,home,run' }).share, ['home', 'run']);
    assert.deepEqual(applyChange(DEFAULT_SETTINGS, { share: 'none' }).share, []);
  });
});

function port(fields: Record<string, unknown>): Record<string, unknown> {
  return { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, envPort: 80, ...fields };
}

describe('published ports', () => {
  test('[HOST_ADDRESS:]HOST_PORT:ENV_PORT[/tcp]', () => {
    assert.deepEqual(parsePublish('8080:80'), {
      protocol: 'tcp',
      hostAddress: '127.0.0.1',
      hostPort: 8080,
      envPort: 80,
    });
    assert.deepEqual(parsePublish('0.0.0.0:65535:1/tcp'), {
      protocol: 'tcp',
      hostAddress: '0.0.0.0',
      hostPort: 65535,
      envPort: 1,
    });
    for (const bad of [
      '8080',
      '8080:',
      ':80',
      '0:80',
      '8080:65536',
      '08080x:80',
      'host:8080:80',
      '1:2:3:4',
      '8080:80/udp',
      '8080:80/',
    ])
      assert.throws(() => parsePublish(bad), VenvError, bad);
  });

  test('replaced on the same host port, removed by it, sorted by it; only with --net private', () => {
    let settings = applyChange(DEFAULT_SETTINGS, { net: 'private', publish: ['9000:90', '8080:80'] });
    assert.deepEqual(
      settings.publish.map((p) => `${p.hostPort}:${p.envPort}`),
      ['8080:80', '9000:90'],
    );
    settings = applyChange(settings, { publish: ['0.0.0.0:8080:8000'] });
    assert.deepEqual(
      settings.publish.map((p) => `${p.hostAddress}:${p.hostPort}:${p.envPort}`),
      ['0.0.0.0:8080:8000', '127.0.0.1:9000:90'],
    );
    settings = applyChange(settings, { removePublish: ['9000'] });
    assert.equal(settings.publish.length, 1);
    assert.throws(() => applyChange(settings, { removePublish: ['9000'] }), /no published port "9000"/);
    assert.throws(() => applyChange(settings, { net: 'none' }), /need --net private/);
    assert.equal(applyChange(settings, { net: 'host', removePublish: ['8080/tcp'] }).publish.length, 0);
    assert.throws(() => applyChange(DEFAULT_SETTINGS, { publish: ['8080:80'] }), /need --net private/);
    assert.match(runtimeSettings(settings), /^publish\ttcp\t0\.0\.0\.0\t8080\t8000$/m);
  });
});

describe('settings read from env.json', () => {
  test('absent: the defaults; a valid object: itself', () => {
    assert.deepEqual(readSettings(undefined), DEFAULT_SETTINGS);
    const settings = {
      net: 'none',
      share: ['tmp'],
      volumes: [{ host: '/h', env: '/e', readOnly: true }],
      publish: [],
      pkgdbSync: 'manual',
    };
    assert.deepEqual(readSettings(settings), settings);
    // Written before there was --publish: none published.
    assert.deepEqual(readSettings({ net: 'none', share: ['tmp'], volumes: [] }).publish, []);
    // env.json of an env made before pkgdbSync existed: it follows the host, as new ones do.
    assert.equal(readSettings({ net: 'host', share: [], volumes: [] }).pkgdbSync, 'auto');
    const published = {
      net: 'private',
      share: [],
      volumes: [],
      publish: [{ protocol: 'tcp', hostAddress: '0.0.0.0', hostPort: 8080, envPort: 80 }],
      pkgdbSync: 'auto',
    };
    assert.deepEqual(readSettings(published), published);
  });

  test('anything else throws', () => {
    const bad: unknown[] = [
      null,
      [],
      { net: 'host', share: [] },
      { net: 'host', share: [], volumes: [], extra: 1 },
      { net: 'host', share: [], volumes: [], pkgdbSync: 'sometimes' },
      { net: 'none', share: 'all', volumes: [] },
      { net: 'host', share: [], volumes: [{ host: '/h', env: '/e/', readOnly: false }] },
      { net: 'host', share: [], volumes: [{ host: '/h', env: '/e', readOnly: false, x: 1 }] },
      { net: 'host', share: [], volumes: [{ host: '/h', env: '/dev/x', readOnly: false }] },
      // Published ports: only with --net private, in range, an IPv4 host address, tcp.
      { net: 'host', share: [], volumes: [], publish: [port({})] },
      { net: 'private', share: [], volumes: [], publish: [port({ hostPort: 0 })] },
      { net: 'private', share: [], volumes: [], publish: [port({ envPort: 65536 })] },
      { net: 'private', share: [], volumes: [], publish: [port({ hostPort: '8080' })] },
      { net: 'private', share: [], volumes: [], publish: [port({ hostAddress: 'localhost' })] },
      { net: 'private', share: [], volumes: [], publish: [port({ protocol: 'udp' })] },
      { net: 'private', share: [], volumes: [], publish: [port({ x: 1 })] },
      { net: 'private', share: [], volumes: [], publish: [port({}), port({ envPort: 81 })] },
      { net: 'private', share: [], volumes: [], publish: [port({}), port({ hostAddress: '0.0.0.0' })] },
      {
        net: 'host',
        share: [],
        volumes: Array.from({ length: 33 }, (_, i) => ({ host: '/h', env: `/e${i}`, readOnly: false })),
      },
    ];
    for (const value of bad) assert.throws(() => readSettings(value), Error, JSON.stringify(value));
  });
});

describe('what the shell side reads', () => {
  test('run/settings: tab-separated lines', () => {
    const settings = applyChange(DEFAULT_SETTINGS, { net: 'none', share: 'home', volumes: ['/a b:/c d:ro'] });
    assert.equal(runtimeSettings(settings), 'net\tnone\nrun\tprivate\nvolume\tro\t/a b\t/c d\npkgdb-sync\tauto\n');
    assert.match(runtimeSettings(applyChange(settings, { pkgdbSync: 'manual' })), /^pkgdb-sync\tmanual$/m);
    assert.throws(() => applyChange(settings, { pkgdbSync: 'off' }), /bad --pkgdb-sync "off": expected auto or manual/);
  });

  test('binds.fstab: private /home and tmpfs /tmp, /var/tmp, /dev/shm when they are not shared', () => {
    const fstab = bindsFstab('/m', () => true, [], '/home/me', { share: ['run'], privateHome: '/h/envs/e/home' });
    assert.deepEqual(fstab.split('\n').filter(Boolean), [
      '/sys /m/sys none rbind 0 0',
      '/dev /m/dev none rbind 0 0',
      'tmpfs /m/dev/shm tmpfs mode=1777,nosuid,nodev 0 0',
      'tmpfs /m/tmp tmpfs mode=1777,nosuid,nodev 0 0',
      'tmpfs /m/var/tmp tmpfs mode=1777,nosuid,nodev 0 0',
      '/h/envs/e/home /m/home none bind 0 0',
      'tmpfs /m/run tmpfs mode=755,nosuid,nodev 0 0',
    ]);
    // Shared, the caller's home is bound in, as without settings.
    const shared = bindsFstab('/m', () => true, [], '/home/me', { share: ['home', 'tmp', 'run'], privateHome: '/x' });
    assert.equal(
      shared,
      bindsFstab('/m', () => true, [], '/home/me'),
    );
    assert.match(shared, /^\/home\/me \/m\/home\/me none rbind 0 0$/m);
  });
});
