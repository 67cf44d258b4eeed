import cronstrue from 'cronstrue';
import 'cronstrue/locales/zh_CN';
import type { Lang } from '../i18n';

/** A human description of a cron expression in `lang`, or null if cronstrue cannot read it. */
export function describeCron(expression: string, lang: Lang): string | null {
  const text = expression.trim();
  if (!text) return null;
  try {
    return cronstrue.toString(text, {
      locale: lang === 'zh' ? 'zh_CN' : 'en',
      use24HourTimeFormat: true,
      verbose: false,
      throwExceptionOnParseError: true,
      // Croner, like Vixie cron, numbers Sunday 0 (and 7).
      dayOfWeekStartIndexZero: true,
    });
  } catch {
    return null;
  }
}
