import { Flex, Typography, theme } from 'antd';

/** The Kairos mark and name. */
export function Logo({ size = 28, collapsed = false, light = false }: { size?: number; collapsed?: boolean; light?: boolean }) {
  const { token } = theme.useToken();
  return (
    <Flex align="center" gap={10}>
      <svg width={size} height={size} viewBox="0 0 64 64" aria-hidden>
        <circle cx="32" cy="32" r="28" fill={token.colorPrimary} />
        <path d="M32 14v18l12 8" stroke="#fff" strokeWidth="6" strokeLinecap="round" strokeLinejoin="round" fill="none" />
      </svg>
      {!collapsed && (
        <Typography.Text strong style={{ fontSize: size * 0.62, letterSpacing: 0.3, color: light ? '#fff' : undefined }}>
          Kairos
        </Typography.Text>
      )}
    </Flex>
  );
}
