case "$SANDBOX_DISTRO" in debian-13) V=8.4 ;; *) V=8.2 ;; esac
pkg php$V-fpm; proc "php-fpm$V|php-fpm"; active php$V-fpm; enabled php$V-fpm
# geerlingguy.php's pool listens on php_fpm_listen, 127.0.0.1:9000 by default (not Debian's socket).
grep -q '^listen = 127.0.0.1:9000' /etc/php/$V/fpm/pool.d/www.conf && ok "pool listens on 127.0.0.1:9000" || fail "www.conf: $(grep '^listen =' /etc/php/$V/fpm/pool.d/www.conf)"
listening 9000
printf '<?php echo "fpm-ok ", PHP_VERSION, " memory_limit=", ini_get("memory_limit");\n' > /tmp/sandbox-check.php; chmod 644 /tmp/sandbox-check.php
fcgi 127.0.0.1:9000 /tmp/sandbox-check.php 'fpm-ok'
