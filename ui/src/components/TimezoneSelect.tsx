import { useMemo, useRef, useState } from 'react';
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
  // What was last typed: the list clears its search as it closes, before blur is seen.
  const typed = useRef('');
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
      onSearch={(text) => {
        setSearch(text);
        if (text) typed.current = text.trim();
      }}
      onSelect={() => {
        typed.current = '';
      }}
      onDropdownVisibleChange={(open) => {
        if (open) return;
        const text = typed.current;
        typed.current = '';
        if (!text) return;
        // A zone typed in full (any case) is that zone; a name matching nothing is kept as typed.
        const lower = text.toLowerCase();
        const exact = options.find((o) => o.value.toLowerCase() === lower);
        if (exact) onChange?.(exact.value);
        else if (!options.some((o) => o.label.toLowerCase().includes(lower))) onChange?.(text);
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
