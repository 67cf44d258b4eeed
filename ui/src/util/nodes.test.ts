import { describe, expect, it } from 'vitest';
import { translate, type MessageKey, type Vars } from '../i18n';
import type { NodeInfo, NodeList } from '../api/types';
import {
  clockOffset,
  countNodes,
  formatAge,
  formatUptime,
  heartbeatAge,
  knownLabels,
  nodeSummary,
  nodesWithLabels,
  shortNodeId,
  skewLevel,
  skewSeconds,
  sortNodes,
} from './nodes';

const en = (key: MessageKey, vars?: Vars) => translate('en', key, vars);
const zh = (key: MessageKey, vars?: Vars) => translate('zh', key, vars);

function node(overrides: Partial<NodeInfo>): NodeInfo {
  return {
    id: '3f2a9c1b7e01',
    host: 'box',
    pid: 1234,
    version: '0.1.0',
    labels: [],
    started: '2026-12-02T03:00:00Z',
    heartbeat: '2026-12-02T03:05:02Z',
    left: null,
    uptime_s: 302,
    clock_skew_ms: 0,
    running: 0,
    state: 'alive',
    this: false,
    ...overrides,
  };
}

function list(items: NodeInfo[]): NodeList {
  return { items, lease_s: 8, heartbeat_s: 2 };
}

describe('uptime and ages', () => {
  it.each([
    [0, '0s', '0秒'],
    [42, '42s', '42秒'],
    [250, '4m 10s', '4分10秒'],
    [3600, '1h 0m', '1小时0分'],
    [7500, '2h 5m', '2小时5分'],
    [3 * 86400 + 4 * 3600 + 59, '3d 4h', '3天4小时'],
  ])('%d s is %s', (seconds, english, chinese) => {
    expect(formatUptime(seconds, en)).toBe(english);
    expect(formatUptime(seconds, zh)).toBe(chinese);
  });

  it('never shows a negative or fractional uptime', () => {
    expect(formatUptime(-5, en)).toBe('0s');
    expect(formatUptime(59.9, en)).toBe('59s');
    expect(formatUptime(Number.NaN, en)).toBe('0s');
  });

  it('says how long ago a heartbeat was', () => {
    expect(formatAge(0.4, en)).toBe('just now');
    expect(formatAge(2.7, en)).toBe('2 s ago');
    expect(formatAge(250, en)).toBe('4m 10s ago');
    expect(formatAge(2, zh)).toBe('2 秒前');
    expect(formatAge(250, zh)).toBe('4分10秒前');
  });
});

describe('the server clock', () => {
  it('measures heartbeat ages on the answering node’s clock, not this browser’s', () => {
    // The node says it is 03:05:02.000 + up to 1 s; this browser thinks it is a minute later.
    const me = node({ this: true, started: '2026-12-02T03:00:00.000Z', uptime_s: 302, heartbeat: '2026-12-02T03:05:01.500Z' });
    const browserNow = Date.parse('2026-12-02T03:06:02.000Z');
    const offset = clockOffset(list([node({}), me]), browserNow);
    expect(offset).toBe(-60_000);
    const other = node({ heartbeat: '2026-12-02T03:05:00.000Z' });
    expect(heartbeatAge(other, browserNow + offset)).toBe(2);
    // Two seconds later on the browser's clock, two seconds older.
    expect(heartbeatAge(other, browserNow + 2000 + offset)).toBe(4);
  });

  it('prefers the heartbeat when it is later than the whole-second uptime says', () => {
    const me = node({ this: true, started: '2026-12-02T03:00:00.000Z', uptime_s: 302, heartbeat: '2026-12-02T03:05:02.800Z' });
    const fetchedAt = Date.parse('2026-12-02T03:05:02.900Z');
    expect(clockOffset(list([me]), fetchedAt)).toBe(-100);
  });

  it('trusts the browser without an answering node', () => {
    expect(clockOffset(list([node({})]), 123)).toBe(0);
    expect(heartbeatAge(node({ heartbeat: '2026-12-02T03:05:02Z' }), Date.parse('2026-12-02T03:05:01Z'))).toBe(0);
  });
});

describe('the summary line', () => {
  it('counts alive nodes and gives the timing', () => {
    expect(nodeSummary(list([node({ state: 'alive' })]), en)).toBe('1 alive · lease 8 s, heartbeat every 2 s');
  });

  it('names lapsed and gone nodes only when there are some', () => {
    const items = [node({ state: 'alive' }), node({ state: 'alive' }), node({ state: 'lapsed' }), node({ state: 'gone' })];
    expect(countNodes(items)).toEqual({ alive: 2, lapsed: 1, gone: 1 });
    expect(nodeSummary(list(items), en)).toBe('2 alive · 1 lapsed · 1 gone · lease 8 s, heartbeat every 2 s');
    expect(nodeSummary(list(items), zh)).toBe('2 个在线 · 1 个心跳超时 · 1 个已下线 · 租约 8 秒，每 2 秒心跳一次');
  });
});

describe('ordering, skew and labels', () => {
  it('lists alive, then lapsed, then gone nodes, keeping the server’s order within each', () => {
    const items = [
      node({ id: 'g1', state: 'gone' }),
      node({ id: 'a1', state: 'alive' }),
      node({ id: 'l1', state: 'lapsed' }),
      node({ id: 'a2', state: 'alive' }),
    ];
    expect(sortNodes(items).map((n) => n.id)).toEqual(['a1', 'a2', 'l1', 'g1']);
    expect(items[0].id).toBe('g1');
  });

  it('grades clock skew against the allowed maximum', () => {
    expect(skewLevel(0)).toBe('ok');
    expect(skewLevel(1000)).toBe('ok');
    expect(skewLevel(-1500)).toBe('warn');
    expect(skewLevel(2001)).toBe('error');
    expect(skewLevel(2001, 5000)).toBe('ok');
    expect(skewSeconds(-3456)).toBe('3.5');
    expect(skewSeconds(125_400)).toBe('125');
    expect(skewSeconds(400)).toBe('0.4');
  });

  it('finds the alive nodes a job’s labels pin it to', () => {
    const items = [
      node({ id: 'gpu', labels: ['gpu', 'eu'] }),
      node({ id: 'cpu', labels: ['eu'] }),
      node({ id: 'old', labels: ['gpu', 'legacy'], state: 'gone' }),
    ];
    expect(nodesWithLabels(items, ['gpu']).map((n) => n.id)).toEqual(['gpu']);
    expect(nodesWithLabels(items, ['gpu', 'eu']).map((n) => n.id)).toEqual(['gpu']);
    expect(nodesWithLabels(items, ['legacy'])).toEqual([]);
    expect(nodesWithLabels(items, []).map((n) => n.id)).toEqual(['gpu', 'cpu']);
    expect(knownLabels(items)).toEqual(['eu', 'gpu']);
  });

  it('shows today’s 12-digit ids whole and shortens longer ones', () => {
    expect(shortNodeId('3f2a9c1b7e01')).toBe('3f2a9c1b7e01');
    expect(shortNodeId('3f2a9c1b-7e01-4c2d-9f00-aa11bb22cc33')).toBe('3f2a9c1b…');
  });
});
