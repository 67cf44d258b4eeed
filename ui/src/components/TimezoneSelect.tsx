import { useMemo } from 'react';
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

/** A searchable list of IANA time zones, each with its current UTC offset. */
export function TimezoneSelect({ id, value, onChange, status, style }: Props) {
  const t = useT();
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
