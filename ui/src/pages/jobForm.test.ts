import { describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { errorTarget, formToJob, jobToForm, newJobForm } from './jobForm';

function job(overrides: Partial<Job>): Job {
  return {
    id: 'j1',
    name: 'Backup',
    description: '',
    tags: ['ops'],
    trigger: { type: 'cron', expression: '0 2 * * *', timezone: 'Europe/London' },
    action: { kind: 'shell', command: 'backup.sh', shell: 'bash', env: { A: '1' } },
    options: { max_instances: 2, retention: { max_runs: 10, max_age_days: 3 } },
    paused: false,
    pool: 'default',
    next_run: null,
    kind: 'shell',
    last_run: null,
    ...overrides,
  };
}

describe('job form ⇄ job JSON', () => {
  it('round-trips a shell cron job, keeping options the form does not show', () => {
    const original = job({});
    const body = formToJob(jobToForm(original), original);
    expect(body).toEqual({
      id: 'j1',
      name: 'Backup',
      description: '',
      tags: ['ops'],
      trigger: { type: 'cron', expression: '0 2 * * *', timezone: 'Europe/London' },
      action: { kind: 'shell', command: 'backup.sh', shell: 'bash', env: { A: '1' } },
      options: { max_instances: 2, retention: { max_runs: 10, max_age_days: 3 } },
      paused: false,
      pool: 'default',
    });
  });

  it('round-trips a chain, dropping rows without a job', () => {
    const original = job({ then: [{ job: 'report', on: 'succeeded' }, { job: 'alert', on: 'failed' }] });
    const form = jobToForm(original);
    expect(form.then).toEqual([{ job: 'report', on: 'succeeded' }, { job: 'alert', on: 'failed' }]);
    form.then.push({ on: 'completed' });
    expect(formToJob(form, original).then).toEqual(original.then);
    expect(formToJob({ ...form, then: [] }, original)).not.toHaveProperty('then');
    expect(errorTarget('then[1].job', "no job with id 'alert'", form)).toEqual(['then', 1, 'job']);
  });

  it('round-trips alert rules: none given means the defaults, an explicit none is kept', () => {
    const rules = [{ channel: 'ops', on: ['failed' as const, 'slow' as const], longer_than_s: 600 }];
    const original = job({ options: { alerts: rules } });
    const form = jobToForm(original);
    expect(formToJob(form, original).options?.alerts).toEqual(rules);
    // "ran long" dropped: its limit goes too; a row without a channel is left out.
    form.alerts = [{ channel: 'ops', on: ['failed'], longer_than_s: 600 }, { on: ['failed'] }];
    expect(formToJob(form, original).options?.alerts).toEqual([{ channel: 'ops', on: ['failed'] }]);
    expect(formToJob({ ...form, alerts: [] }, original).options).not.toHaveProperty('alerts');
    const none = job({ options: { alerts: [] } });
    expect(formToJob(jobToForm(none), none).options?.alerts).toEqual([]);
    expect(errorTarget('options.alerts[0].channel', 'no channel', form)).toEqual(['alerts', 0, 'channel']);
  });

  it('round-trips HTTP, interval and calendar jobs', () => {
    const http = job({
      kind: 'http',
      action: { kind: 'http', method: 'POST', url: 'https://x.test/hook', headers: { 'X-A': 'b' }, body: '{}', expect_status: [200, 204] },
      trigger: { type: 'interval', hours: 1, minutes: 30, timezone: 'UTC' },
      options: {},
    });
    const body = formToJob(jobToForm(http), http);
    expect(body.action).toEqual(http.action);
    expect(body.trigger).toEqual({ type: 'interval', hours: 1, minutes: 30, timezone: 'UTC' });

    const calendar = job({
      trigger: { type: 'calendar_interval', every: 2, unit: 'months', start_date: '2026-01-31', time: '09:15:00', timezone: 'Asia/Tokyo' },
    });
    expect(formToJob(jobToForm(calendar), calendar).trigger).toEqual(calendar.trigger);
  });

  it('reads a date picked on the job zone’s wall clock as that zone’s instant', () => {
    const once = job({ trigger: { type: 'date', at: '2026-03-01T01:00:00Z', timezone: 'Asia/Shanghai' } });
    const form = jobToForm(once);
    expect(form.trigger.at?.format('YYYY-MM-DD HH:mm')).toBe('2026-03-01 09:00');
    expect(formToJob(form, once).trigger).toEqual({ type: 'date', at: '2026-03-01T01:00:00.000Z', timezone: 'Asia/Shanghai' });
  });

  it('leaves empty options to the scheduler defaults and drops empty env rows', () => {
    const form = newJobForm();
    form.triggerMode = 'interval';
    form.trigger.minutes = 5;
    form.name = '  Hello ';
    form.action.command = 'echo hi';
    form.action.env = [{ key: '', value: 'x' }, { key: 'B', value: '2' }];
    form.options = { max_instances: null, retries: { count: 3, backoff_s: null, factor: 1.5 } };
    const body = formToJob(form);
    expect(body.name).toBe('Hello');
    expect(body.id).toBeUndefined();
    expect(body.action).toMatchObject({ kind: 'shell', command: 'echo hi', env: { B: '2' } });
    expect(body.options).toEqual({ retries: { count: 3, factor: 1.5 } });
  });
});

describe('node labels', () => {
  it('round-trips the labels a job is pinned to', () => {
    const pinned = job({ node_labels: ['gpu', 'eu'] });
    const form = jobToForm(pinned);
    expect(form.node_labels).toEqual(['gpu', 'eu']);
    expect(formToJob(form, pinned).node_labels).toEqual(['gpu', 'eu']);
  });

  it('reads a job without labels (the server leaves them out) as any node, and sends none back', () => {
    const any = job({});
    expect(any.node_labels).toBeUndefined();
    const form = jobToForm(any);
    expect(form.node_labels).toEqual([]);
    expect('node_labels' in formToJob(form, any)).toBe(false);
    expect(newJobForm().node_labels).toEqual([]);
  });

  it('clears labels removed on the form, and tidies typed ones', () => {
    const pinned = job({ node_labels: ['gpu'] });
    const form = jobToForm(pinned);
    form.node_labels = [];
    expect(formToJob(form, pinned).node_labels).toBeUndefined();
    form.node_labels = [' gpu ', 'gpu', '', 'eu'];
    expect(formToJob(form, pinned).node_labels).toEqual(['gpu', 'eu']);
  });

  it('puts the server’s node_labels errors on the field', () => {
    expect(errorTarget('node_labels', 'must not be empty', newJobForm())).toEqual(['node_labels']);
    expect(errorTarget('node_labels[1]', 'bad label', newJobForm())).toEqual(['node_labels']);
  });
});

describe('server errors land on form fields', () => {
  const cron = { ...newJobForm(), triggerMode: 'cron' as const };
  it.each([
    ['name', 'must not be empty', ['name']],
    ['action.url', "scheme must be http or https, not 'ftp'", ['action', 'url']],
    ['action.command', 'must not be empty', ['action', 'command']],
    ['options.max_instances', 'invalid type', ['options', 'max_instances']],
    ['trigger', 'minute: 60 is out of range 0-59', ['trigger', 'expression']],
    ['trigger', "failed to parse timezone: 'Mars/X'", ['trigger', 'timezone']],
    ['trigger.expression', 'bad', ['trigger', 'expression']],
    ['action.expect_status', 'bad range', ['action', 'expect_status', 0]],
  ])('%s: %s', (field, message, target) => {
    expect(errorTarget(field, message, cron)).toEqual(target);
  });

  it('follows the trigger type, and falls back to the whole form', () => {
    expect(errorTarget('trigger', 'interval: the period is zero', { ...cron, triggerMode: 'interval' })).toEqual(['trigger', 'period']);
    expect(errorTarget('trigger', 'anything', { ...cron, triggerMode: 'json' })).toEqual(['trigger', 'json']);
    expect(errorTarget('colour', 'unknown field', cron)).toBeNull();
    expect(errorTarget(null, 'boom', cron)).toBeNull();
    expect(errorTarget('trigger', 'missing field `type`', newJobForm())).toEqual(['triggerMode']);
  });

  it('starts a new job with no trigger chosen and no period filled in', () => {
    const form = newJobForm();
    expect(form.triggerMode).toBeUndefined();
    expect(form.trigger.expression).toBe('');
    expect([form.trigger.weeks, form.trigger.days, form.trigger.hours, form.trigger.minutes, form.trigger.seconds]).toEqual(
      [undefined, undefined, undefined, undefined, undefined],
    );
    expect(() => formToJob({ ...form, name: 'x', action: { command: 'true' } })).toThrow(/no trigger type/);
  });
});

describe('workflow jobs', () => {
  const workflow = job({
    kind: 'workflow',
    action: {
      kind: 'workflow',
      steps: [
        { id: 'extract', action: { kind: 'shell', command: 'echo extracted', shell: 'bash', env: { A: '1' } }, retries: { count: 2, backoff_s: 5 } },
        { id: 'transform', job: 'transformer', timeout_s: 60 },
        { id: 'load', action: { kind: 'http', method: 'POST', url: 'https://x.test/load', expect_status: [200, 204] } },
      ],
      edges: [
        { from: 'extract', to: 'transform', on: 'succeeded' },
        { from: 'transform', to: 'load', on: 'failed' },
      ],
    },
  });

  it('round-trips the steps and edges exactly', () => {
    const form = jobToForm(workflow);
    expect(form.kind).toBe('workflow');
    expect(form.workflow.steps.map((s) => s.step.id)).toEqual(['extract', 'transform', 'load']);
    expect(formToJob(form, workflow).action).toEqual(workflow.action);
  });

  it('keeps what the editor does not show when a step is edited', () => {
    const form = jobToForm(workflow);
    const [extract] = form.workflow.steps;
    form.workflow.steps[0] = { ...extract, step: { ...extract.step, id: 'pull', retries: { ...extract.step.retries!, count: 4 } } };
    const action = formToJob(form, workflow).action;
    expect(action).toMatchObject({
      kind: 'workflow',
      steps: [{ id: 'pull', action: { env: { A: '1' }, shell: 'bash' }, retries: { count: 4, backoff_s: 5 } }, {}, {}],
      edges: [{ from: 'pull', to: 'transform' }, { from: 'transform', to: 'load' }],
    });
  });

  it('starts a new job with an empty workflow, and sends what the canvas built', () => {
    const form = newJobForm();
    expect(form.workflow).toEqual({ steps: [], edges: [] });
    form.kind = 'workflow';
    form.name = 'ETL';
    form.triggerMode = 'interval';
    form.trigger.hours = 24;
    form.workflow = {
      steps: [
        { key: 's1', step: { id: 'a', action: { kind: 'shell', command: 'echo a' } } },
        { key: 's2', step: { id: 'b', action: { kind: 'shell', command: 'echo b' } } },
      ],
      edges: [{ from: 's1', to: 's2', on: 'completed' }],
    };
    expect(formToJob(form).action).toEqual({
      kind: 'workflow',
      steps: [
        { id: 'a', action: { kind: 'shell', command: 'echo a' } },
        { id: 'b', action: { kind: 'shell', command: 'echo b' } },
      ],
      edges: [{ from: 'a', to: 'b', on: 'completed' }],
    });
  });

  it('puts the server’s step and edge errors under the canvas', () => {
    const form = jobToForm(workflow);
    expect(errorTarget('action.steps[1].job', "no job with id 'transformer'", form)).toEqual(['workflow']);
    expect(errorTarget('action.edges', 'these steps form a cycle: a → b → a', form)).toEqual(['workflow']);
    expect(errorTarget('action.steps[0].action.command', 'must not be empty', form)).toEqual(['workflow']);
  });
});
