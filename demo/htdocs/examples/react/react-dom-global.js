// "react-dom/client" for pages without a build step (see react-global.js).
export const { createRoot, hydrateRoot } = window.ReactDOM;
