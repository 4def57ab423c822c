FROM python:3.11-slim

WORKDIR /opt/ssdbpy
COPY setup.cfg pyproject.toml README.md ./
COPY ssdbpy ./ssdbpy
COPY tools ./tools
RUN pip install --no-cache-dir . \
    && mkdir -p /var/lib/ssdb \
    && printf 'work_dir = /var/lib/ssdb\n\nserver:\n\tip: 0.0.0.0\n\tport: 8888\n\nreplication:\n\tbinlog: yes\n\t\tcapacity: 20000000\n\tsync_speed: -1\n\nlogger:\n\tlevel: info\n\toutput: stdout\n\nleveldb:\n\tcache_size: 500\n\twrite_buffer_size: 64\n\tcompression: yes\n' > /etc/ssdb.conf

VOLUME ["/var/lib/ssdb"]
EXPOSE 8888
STOPSIGNAL SIGTERM
CMD ["ssdb-server", "/etc/ssdb.conf"]
