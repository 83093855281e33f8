// "react" for pages without a build step: React's UMD build (loaded by a
// classic <script> before the modules) as an ES module, so code written
// for a bundler (`import { useState } from "react"`) runs unchanged.  An
// import map points "react" here.
const React = window.React;
export default React;
export const {
  Children, Component, Fragment, StrictMode, createContext, createElement,
  memo, useCallback, useContext, useEffect, useLayoutEffect, useMemo,
  useReducer, useRef, useState,
} = React;
