import { describe, expect, it } from 'vitest';
import type { Action } from '../api/types';
import { formToParams, hasParams, paramsErrorAt, paramsForm, takesParams } from './runParams';

const shell: Action = { kind: 'shell', command: 'echo "$1|$GREETING"' };
const post: Action = { kind: 'http', url: 'http://example.com/hook', method: 'POST', body: '{"a":1}' };
const get: Action = { kind: 'http', url: 'http://example.com/health' };

describe('run parameters', () => {
  it('are taken by shell and HTTP jobs only', () => {
    expect(['shell', 'http', 'monitor', 'function', 'workflow'].filter((k) => takesParams(k as Action['kind']))).toEqual(['shell', 'http']);
  });

  it('start from nothing, and an HTTP job’s own body', () => {
    expect(paramsForm(shell)).toEqual({ env: [], args: [], body: '' });
    expect(paramsForm(post).body).toBe('{"a":1}');
    expect(paramsForm(get).body).toBe('');
  });

  it('send a shell job’s variables and arguments in order, blanks kept as arguments', () => {
    const values = { env: [{ key: ' GREETING ', value: 'hello' }, { key: '', value: 'dropped' }], args: ['world', '', 'x y'], body: 'ignored' };
    expect(formToParams(values, shell)).toEqual({ env: { GREETING: 'hello' }, args: ['world', '', 'x y'], body: null });
  });

  it('send an HTTP job’s body only when it differs from the job’s own', () => {
    const values = { env: [{ key: 'A', value: 'b' }], args: ['x'], body: '{"b":2}' };
    expect(formToParams(values, post)).toEqual({ env: {}, args: [], body: '{"b":2}' });
    expect(formToParams({ ...values, body: '' }, post).body).toBe('');
    expect(formToParams({ ...values, body: '{"a":1}' }, post).body).toBeNull();
    expect(formToParams({ ...values, body: '' }, get).body).toBeNull();
    expect(formToParams(values, get).body).toBe('{"b":2}');
  });

  it('land the server’s refusal on the list or box it names', () => {
    expect(paramsErrorAt('params.env', "'A=B' is not a variable name", 'shell')).toEqual({ name: 'env', message: "'A=B' is not a variable name" });
    expect(paramsErrorAt('params.env.A', 'must not contain NUL', 'shell')).toEqual({ name: 'env', message: 'A: must not contain NUL' });
    expect(paramsErrorAt('params.args[1]', 'must not contain NUL', 'shell')).toEqual({ name: 'args', message: '$2: must not contain NUL' });
    expect(paramsErrorAt('params.body', 'must not contain NUL', 'http')?.name).toBe('body');
    expect(paramsErrorAt('params', 'holds 70000 bytes', 'shell')).toBeNull();
    expect(paramsErrorAt(null, 'max instances', 'http')).toBeNull();
  });

  it('say a refusal of an item the form does not show above the form', () => {
    // E.g. the job was changed to another kind since the page loaded it.
    expect(paramsErrorAt('params.args', 'only a shell job takes arguments', 'http')).toBeNull();
    expect(paramsErrorAt('params.body', 'only an HTTP job takes a body', 'shell')).toBeNull();
    expect(paramsErrorAt('params.env', 'only a shell job takes environment variables', 'monitor')).toBeNull();
  });

  it('say whether a run carries any (empty parts left out)', () => {
    expect(hasParams(null)).toBe(false);
    expect(hasParams({} as never)).toBe(false);
    expect(hasParams({ env: {}, args: [], body: null })).toBe(false);
    expect(hasParams({ args: ['x'] } as never)).toBe(true);
    expect(hasParams({ body: '' } as never)).toBe(true);
  });
});
