// Installers other than dpkg, offline: `make install` into /usr/local, pip installing
// system-wide, npm installing globally. Each writes where only root may on the host.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { asUser, giveToUser, hasProgram, TestHome } from './pkg-helpers.js';

describe('make, pip and npm install system-wide in an env', () => {
  const t = new TestHome();

  before(() => {
    assert.equal(t.venv('create', 'build').status, 0);
  });

  after(() => t.finish());

  it('make install into /usr/local', { skip: !hasProgram('make') && 'make is not installed' }, () => {
    const project = join(t.dir, 'project');
    mkdirSync(project);
    const cc = hasProgram('cc');
    // With a C compiler, a compiled program; without, a script: make install is the point.
    writeFileSync(
      join(project, 'hello.c'),
      '#include <stdio.h>\nint main(void) { puts("built by make"); return 0; }\n',
    );
    writeFileSync(join(project, 'hello.sh'), '#!/bin/sh\necho built by make\n');
    writeFileSync(
      join(project, 'Makefile'),
      [
        'PREFIX ?= /usr/local',
        cc ? 'venv-make-hello: hello.c\n\tcc -o $@ hello.c' : 'venv-make-hello: hello.sh\n\tcp hello.sh $@',
        'install: venv-make-hello',
        '\tinstall -D -m 755 venv-make-hello $(DESTDIR)$(PREFIX)/bin/venv-make-hello',
        '\tinstall -D -m 644 Makefile $(DESTDIR)$(PREFIX)/share/venv-make-hello/Makefile',
        '',
      ].join('\n'),
    );
    giveToUser(project);
    t.sh('build', `cd ${project} && make install`);
    assert.equal(
      t.sh('build', 'venv-make-hello && command -v venv-make-hello'),
      'built by make\n/usr/local/bin/venv-make-hello\n',
    );
    assert.equal(existsSync('/usr/local/bin/venv-make-hello'), false);
    assert.equal(existsSync('/usr/local/share/venv-make-hello'), false);
  });

  const pip = spawnSync('/usr/bin/python3', ['-m', 'pip', '--version']).status === 0;
  it('pip install --break-system-packages of a local wheel', { skip: !pip && "the host's python3 has no pip" }, () => {
    // A wheel is a zip with the package and its dist-info: built here, so no index is needed.
    const src = join(t.dir, 'wheel');
    mkdirSync(join(src, 'venv_pipdemo'), { recursive: true });
    mkdirSync(join(src, 'venv_pipdemo-1.0.dist-info'));
    writeFileSync(join(src, 'venv_pipdemo/__init__.py'), 'GREETING = "imported from the env"\n');
    writeFileSync(
      join(src, 'venv_pipdemo-1.0.dist-info/METADATA'),
      'Metadata-Version: 2.1\nName: venv-pipdemo\nVersion: 1.0\n',
    );
    writeFileSync(
      join(src, 'venv_pipdemo-1.0.dist-info/WHEEL'),
      'Wheel-Version: 1.0\nGenerator: venv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    );
    writeFileSync(
      join(src, 'venv_pipdemo-1.0.dist-info/RECORD'),
      'venv_pipdemo/__init__.py,,\nvenv_pipdemo-1.0.dist-info/METADATA,,\nvenv_pipdemo-1.0.dist-info/WHEEL,,\nvenv_pipdemo-1.0.dist-info/RECORD,,\n',
    );
    const wheel = join(t.dir, 'venv_pipdemo-1.0-py3-none-any.whl');
    const zip = spawnSync(
      '/usr/bin/python3',
      ['-m', 'zipfile', '-c', wheel, 'venv_pipdemo', 'venv_pipdemo-1.0.dist-info'],
      {
        cwd: src,
      },
    );
    assert.equal(zip.status, 0, String(zip.stderr));
    giveToUser(wheel);
    t.sh('build', `/usr/bin/python3 -m pip install --break-system-packages --no-index --no-cache-dir ${wheel} 2>&1`);
    const where = t.sh(
      'build',
      '/usr/bin/python3 -c "import venv_pipdemo; print(venv_pipdemo.GREETING, venv_pipdemo.__file__)"',
    );
    assert.match(
      where,
      /^imported from the env \/usr\/local\/lib\/python3[.\d]*\/dist-packages\/venv_pipdemo\/__init__\.py\n$/,
    );
    const host = spawnSync('/usr/bin/python3', ['-c', 'import venv_pipdemo'], { encoding: 'utf8' });
    assert.match(host.stderr, /No module named 'venv_pipdemo'/);
  });

  it('npm install -g of a local package', { skip: !hasProgram('npm') && 'npm is not installed' }, () => {
    const pkg = join(t.dir, 'npm-pkg');
    mkdirSync(pkg);
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'venv-npm-demo', version: '1.0.0', bin: 'cli.js' }),
    );
    writeFileSync(join(pkg, 'cli.js'), '#!/usr/bin/env node\nconsole.log("run from the env");\n');
    giveToUser(pkg);
    const packed = asUser('npm', ['pack', '--pack-destination', t.dir, pkg]);
    assert.equal(packed.status, 0, packed.stderr);
    const cache = join(t.dir, 'npm-cache');
    t.sh(
      'build',
      `npm install -g --offline --no-audit --no-fund --cache ${cache} ${t.dir}/venv-npm-demo-1.0.0.tgz 2>&1`,
    );
    const prefix = t.sh('build', 'npm prefix -g 2>/dev/null').trim();
    assert.equal(t.sh('build', 'venv-npm-demo'), 'run from the env\n');
    assert.equal(existsSync(join(prefix, 'bin/venv-npm-demo')), false);
    assert.equal(existsSync(join(prefix, 'lib/node_modules/venv-npm-demo')), false);
  });
});
