import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { describe, test } from 'node:test';
import { envPaths, venvHome } from '../../src/store/paths.js';

describe('where envs live', () => {
  test('VENV_HOME wins, made absolute (nsenter moves to the env root, so paths must be)', () => {
    assert.equal(venvHome({ VENV_HOME: '/data/venv' }), '/data/venv');
    assert.equal(venvHome({ VENV_HOME: 'rel/home' }), `${process.cwd()}/rel/home`);
    assert.equal(venvHome({ VENV_HOME: '/a/b/../c/' }), '/a/c');
  });

  test('else $XDG_DATA_HOME/venv, else ~/.local/share/venv', () => {
    assert.equal(venvHome({ XDG_DATA_HOME: '/x/data' }), '/x/data/venv');
    const fallback = venvHome({});
    assert.ok(fallback.endsWith('/venv') && fallback.startsWith('/'), fallback);
    assert.ok(fallback === `${homedir()}/.local/share/venv` || process.env.XDG_DATA_HOME, fallback);
  });

  test('an env is one directory with its parts inside, the lock outside', () => {
    const paths = envPaths('work', '/h');
    assert.equal(paths.dir, '/h/envs/work');
    for (const part of [paths.meta, paths.upper, paths.work, paths.merged, paths.run, paths.keeperFile]) {
      assert.ok(part.startsWith('/h/envs/work/'), part);
    }
    assert.equal(paths.lockTarget, '/h/locks/work');
  });
});
