import { describe, expect, it } from 'vitest';
import { sayProblem } from './problems';

describe('sayProblem', () => {
  it('says a known code in Chinese, naming the cron field in Chinese too', () => {
    const problem = { code: 'cron_out_of_range' as const, params: { part: 'minute', value: '60', min: '0', max: '59' } };
    expect(sayProblem('zh', problem, 'minute: 60 is out of range 0-59')).toBe('分：60 超出范围 0-59');
  });

  it('keeps the server English in English, and without a code', () => {
    const problem = { code: 'exited' as const, params: { status: '3' } };
    expect(sayProblem('en', problem, 'exited with status 3')).toBe('exited with status 3');
    expect(sayProblem('zh', null, 'cannot start: no such file')).toBe('cannot start: no such file');
    expect(sayProblem('zh', problem, 'exited with status 3')).toBe('退出状态码 3');
  });

  it('keeps the server English for a code or a parameter newer than this UI', () => {
    const newer = { code: 'cron_from_the_future' as never, params: {} };
    expect(sayProblem('zh', newer, 'a newer message')).toBe('a newer message');
    expect(sayProblem('zh', { code: 'constructor' as never, params: {} }, 'odd')).toBe('odd');
    const missing = { code: 'exited' as const, params: { signal: '9' } };
    expect(sayProblem('zh', missing, 'exited with status 3')).toBe('exited with status 3');
  });
});
