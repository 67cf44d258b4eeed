import type { Trigger, IntervalTrigger } from '../api/types';
import { describeCron } from '../cron/describe';
import type { Lang, Translate } from '../i18n';
import { durationUnits, formatDateTime } from './format';

/** `1w 2d 3h 4m 5s` (in Chinese `1周 2天 3小时 4分 5秒`) for an interval trigger's period. */
export function intervalText(t: IntervalTrigger): string {
  const u = durationUnits();
  const parts: string[] = [];
  if (t.weeks) parts.push(`${t.weeks}${u.w}`);
  if (t.days) parts.push(`${t.days}${u.d}`);
  if (t.hours) parts.push(`${t.hours}${u.h}`);
  if (t.minutes) parts.push(`${t.minutes}${u.m}`);
  if (t.seconds) parts.push(`${t.seconds}${u.s}`);
  if (t.milliseconds) parts.push(`${t.milliseconds}${u.ms}`);
  return parts.join(' ') || `0${u.s}`;
}

/** A one-line human summary of a trigger. */
export function triggerSummary(trigger: Trigger, t: Translate, lang: Lang): string {
  switch (trigger.type) {
    case 'cron': {
      const d = describeCron(trigger.expression, lang);
      const zone = trigger.timezone && trigger.timezone !== 'UTC' ? ` (${trigger.timezone})` : '';
      return (d ?? trigger.expression) + zone;
    }
    case 'interval':
      return t('trigger.summary.interval', { period: intervalText(trigger) });
    case 'date':
      return t('trigger.summary.date', { at: formatDateTime(trigger.at, trigger.timezone) });
    case 'calendar_interval':
      return t('trigger.summary.calendar', {
        every: trigger.every,
        unit: t(`unit.${trigger.unit}`),
        start: trigger.start_date,
        time: (trigger.time ?? '00:00:00').slice(0, 5),
      });
    case 'or':
      return t('trigger.summary.or', { n: trigger.triggers.length });
    case 'and':
      return t('trigger.summary.and', { n: trigger.triggers.length });
  }
}

/** The raw technical form: `0 9 * * 1-5`, `every 1h`, … */
export function triggerRaw(trigger: Trigger): string {
  switch (trigger.type) {
    case 'cron':
      return trigger.expression;
    case 'interval':
      return intervalText(trigger);
    case 'date':
      return trigger.at;
    case 'calendar_interval':
      return `${trigger.every} ${trigger.unit}`;
    default:
      return trigger.type;
  }
}
