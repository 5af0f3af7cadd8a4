/**
 * versitygw for tests: started on a free loopback port over a temp folder, stopped afterwards. The code
 * lives in bench/ because `npm run bench` starts it too (bench may not import tests/; tests import anything).
 */
export { startVersitygw, versitygwBinary, type RunningVersitygw } from '../../bench/versitygw';
