// Language and theme, persisted in localStorage; the antd locale, dayjs locale and cronstrue
// locale all follow the language.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { translate, type Lang, type Translate } from '../i18n';

export type ThemePref = 'light' | 'dark' | 'system';

interface Prefs {
  lang: Lang;
  setLang: (lang: Lang) => void;
  theme: ThemePref;
  setTheme: (theme: ThemePref) => void;
  /** Whether dark colours are in use (the preference, or the system's). */
  dark: boolean;
  t: Translate;
}

const LANG_KEY = 'kairos.lang';
const THEME_KEY = 'kairos.theme';

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // private mode: keep it for this page only
  }
}

function initialLang(): Lang {
  const saved = read(LANG_KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  return typeof navigator !== 'undefined' && navigator.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

function initialTheme(): ThemePref {
  const saved = read(THEME_KEY);
  return saved === 'light' || saved === 'dark' || saved === 'system' ? saved : 'system';
}

const systemQuery = () =>
  typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

const PrefsContext = createContext<Prefs | null>(null);

export function PrefsProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [theme, setThemeState] = useState<ThemePref>(initialTheme);
  const [systemDark, setSystemDark] = useState(() => systemQuery()?.matches ?? false);

  useEffect(() => {
    const q = systemQuery();
    if (!q) return undefined;
    const onChange = () => setSystemDark(q.matches);
    q.addEventListener('change', onChange);
    return () => q.removeEventListener('change', onChange);
  }, []);

  // Before children render, so relative times come out in the right language.
  const dayjsLocale = lang === 'zh' ? 'zh-cn' : 'en';
  if (dayjs.locale() !== dayjsLocale) dayjs.locale(dayjsLocale);
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);

  const setLang = useCallback((next: Lang) => {
    write(LANG_KEY, next);
    setLangState(next);
  }, []);
  const setTheme = useCallback((next: ThemePref) => {
    write(THEME_KEY, next);
    setThemeState(next);
  }, []);

  const dark = theme === 'dark' || (theme === 'system' && systemDark);
  useEffect(() => {
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }, [dark]);

  const value = useMemo<Prefs>(
    () => ({ lang, setLang, theme, setTheme, dark, t: (key, vars) => translate(lang, key, vars) }),
    [lang, setLang, theme, setTheme, dark],
  );
  return <PrefsContext.Provider value={value}>{children}</PrefsContext.Provider>;
}

export function usePrefs(): Prefs {
  const prefs = useContext(PrefsContext);
  if (!prefs) throw new Error('usePrefs outside PrefsProvider');
  return prefs;
}

/** The translate function of the current language. */
export function useT(): Translate {
  return usePrefs().t;
}
