pkg redis-server; proc 'redis-server'; active redis-server; enabled redis-server; listening 6379; banner 6379 'PING\r\n' '^\+PONG'
