/// <reference types="vite/client" />

// Registers the zh_CN locale with cronstrue; it has no type declarations of its own.
declare module 'cronstrue/locales/zh_CN';
