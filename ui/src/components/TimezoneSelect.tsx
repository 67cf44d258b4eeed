import { useMemo, useState } from 'react';
import { Select } from 'antd';
import { GlobalOutlined } from '@ant-design/icons';
import { allZones, localZone, zoneOffset } from '../util/format';
import { useT } from '../state/prefs';

interface Props {
  id?: string;
  value?: string;
  onChange?: (zone: string) => void;
  status?: '' | 'error' | 'warning';
  style?: React.CSSProperties;
}

/** A searchable list of IANA time zones, each with its current UTC offset. A name typed that is
 * not in the list is said to be unknown and kept as typed (the server's check then names it),
 * never silently replaced. */
export function TimezoneSelect({ id, value, onChange, status, style }: Props) {
  const t = useT();
  const [search, setSearch] = useState('');
  const options = useMemo(() => {
    const here = localZone();
    const zones = allZones();
    if (value && !zones.includes(value)) zones.push(value);
    return zones.map((zone) => ({
      value: zone,
      label: `${zone} (UTC${zoneOffset(zone)})${zone === here ? ` · ${t('tz.local')}` : ''}`,
    }));
  }, [value, t]);
  return (
    <Select
      id={id}
      showSearch
      value={value}
      status={status}
      onChange={onChange}
      onSearch={setSearch}
      onBlur={() => {
        const typed = search.trim();
        if (typed && !options.some((o) => o.value.toLowerCase() === typed.toLowerCase() || o.label.toLowerCase().includes(typed.toLowerCase()))) {
          onChange?.(typed);
        }
        setSearch('');
      }}
      notFoundContent={search.trim() ? <span data-testid="timezone-unknown">{t('tz.unknown', { zone: search.trim() })}</span> : undefined}
      options={options}
      optionFilterProp="label"
      suffixIcon={<GlobalOutlined />}
      placeholder={t('tz.placeholder')}
      data-testid="timezone-select"
      style={{ width: '100%', ...style }}
      popupMatchSelectWidth={false}
    />
  );
}
