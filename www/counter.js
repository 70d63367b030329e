/* counter.js -- the counter demo: one value shared by everyone on /counter.
 *
 * The app sends {"type":"users","count":N} whenever someone joins or
 * leaves and {"type":"value","value":V} whenever the value changes; the
 * buttons send {"action":"minus"} and {"action":"plus"}.
 */
'use strict';
(function () {
	var url = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' +
	    location.host + '/counter';
	var minus = document.getElementById('minus');
	var plus = document.getElementById('plus');
	var value = document.getElementById('value');
	var users = document.getElementById('users');
	var status = document.getElementById('status');
	var ws;

	// "1 user", "2 users".
	function plural(n) {
		return n + (n === 1 ? ' user' : ' users');
	}

	// Enables the buttons only while the socket is open.
	function ready(on) {
		minus.disabled = !on;
		plus.disabled = !on;
	}

	// Sends one action if the socket is open.
	function send(action) {
		if (ws.readyState === WebSocket.OPEN)
			ws.send(JSON.stringify({ action: action }));
	}

	status.textContent = 'Connecting to ' + url + '\u2026';
	ws = new WebSocket(url);
	ws.onopen = function () {
		status.textContent = 'Connected.';
		ready(true);
	};
	ws.onmessage = function (ev) {
		var event;

		try {
			event = JSON.parse(ev.data);
		} catch (e) {
			console.error('not JSON', ev.data);
			return;
		}
		switch (event && event.type) {
		case 'value':
			value.textContent = event.value;
			break;
		case 'users':
			users.textContent = plural(event.count);
			break;
		default:
			console.error('unsupported event', event);
		}
	};
	ws.onerror = function () {
		status.textContent = 'Connection error.';
	};
	ws.onclose = function (ev) {
		ready(false);
		users.textContent = '?';
		status.textContent = 'Closed (code ' + ev.code +
		    '). Reload the page to reconnect.';
	};

	minus.addEventListener('click', function () {
		send('minus');
	});
	plus.addEventListener('click', function () {
		send('plus');
	});
})();
