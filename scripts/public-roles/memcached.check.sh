pkg memcached; proc memcached; active memcached; enabled memcached; listening 11211; banner 11211 'version\r\n' '^VERSION '
