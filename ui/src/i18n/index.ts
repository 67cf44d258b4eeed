import { en } from './en';
import { zh } from './zh';

export type Lang = 'en' | 'zh';
export type MessageKey = keyof typeof en;
export type Vars = Record<string, string | number>;

export const dictionaries: Record<Lang, Record<MessageKey, string>> = { en, zh };

/** `key` in `lang`, with `{name}` placeholders filled from `vars`. */
export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const text = dictionaries[lang][key] ?? en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

export type Translate = (key: MessageKey, vars?: Vars) => string;
