import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommanderError } from 'commander';
import { VenvBug, VenvError } from '../../src/errors.js';
import { reportError } from '../../src/cli/report-error.js';

function report(error: unknown): { status: number; text: string } {
  let text = '';
  const status = reportError(
    error,
    (chunk) => {
      text += chunk;
    },
    false,
  );
  return { status, text };
}

describe('how errors reach the user', () => {
  test('a VenvError: one error line, one hint line, exit 125', () => {
    const { status, text } = report(
      new VenvError('ENV_NOT_FOUND', 'no env named "x"', { hint: 'create it with "venv create x"' }),
    );
    assert.equal(status, 125);
    assert.equal(text, 'venv: error: no env named "x"\nhint: create it with "venv create x"\n');
  });

  test('a VenvError without a hint: only the error line', () => {
    assert.deepEqual(report(new VenvError('IO_FAILED', 'disk full')), {
      status: 125,
      text: 'venv: error: disk full\n',
    });
  });

  test('a VenvError keeps its own exit status', () => {
    assert.equal(report(new VenvError('USAGE', 'x', { exitCode: 2 })).status, 2);
  });

  test('commander: help and version are not failures, usage errors are 125', () => {
    assert.deepEqual(report(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { status: 0, text: '' });
    assert.deepEqual(report(new CommanderError(1, 'commander.unknownOption', "error: unknown option '-x'")), {
      status: 125,
      text: '',
    });
  });

  test('an error of the system no module turned into a VenvError: its line and a hint, no stack', () => {
    const error = Object.assign(new Error("EACCES: permission denied, mkdir '/etc/vh'"), { code: 'EACCES' });
    const { status, text } = report(error);
    assert.equal(status, 125);
    assert.match(text, /^venv: error: EACCES: permission denied, mkdir '\/etc\/vh'\nhint: [^\n]+\n$/);
  });

  test('anything else is a bug: one line and a hint to VENV_DEBUG=1, exit 125', () => {
    const { status, text } = report(new VenvBug('keeper file has three fields\nsecond line'));
    assert.equal(status, 125);
    assert.equal(
      text,
      'venv: error: internal error (a bug in venv): keeper file has three fields\n' +
        'hint: run again with VENV_DEBUG=1 to see where it failed, and report it\n',
    );
    assert.match(report('a string').text, /a string\n/);
  });

  test('with VENV_DEBUG=1 a bug shows its stack', () => {
    let text = '';
    const status = reportError(new VenvBug('keeper file has three fields'), (chunk) => (text += chunk), true);
    assert.equal(status, 125);
    assert.match(
      text,
      /^venv: internal error \(a bug, please report it\):\nVenvBug: keeper file has three fields\n +at /,
    );
  });
});
