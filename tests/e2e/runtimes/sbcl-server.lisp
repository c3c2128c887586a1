;; The SBCL copy loop of sbcl-loop.lisp as a server, for the stalled-client benchmark
;; (demo/bench-runtimes.sh): a thread per connection (sb-thread) reads the request head,
;; writes a minimal HTTP/1.0 header, then sends ROOT/<name> with the same loop:
;; read-sequence / write-sequence with an 8 KiB octet vector over fd-streams.
;; usage: sbcl --script sbcl-server.lisp ROOT/ PORT   (127.0.0.1:PORT; SIGINT stops it)
(require :sb-bsd-sockets)

(defun request-path (s)
  "The path of the request line (\"GET /name HTTP/1.x\"), once the head has arrived."
  (let ((head (make-array 0 :element-type 'character :adjustable t :fill-pointer 0))
        (buf (make-array 4096 :element-type '(unsigned-byte 8))))
    (loop until (search (coerce '(#\Return #\Newline #\Return #\Newline) 'string) head)
          do (multiple-value-bind (b n) (sb-bsd-sockets:socket-receive s buf nil)
               (declare (ignore b))
               (when (or (null n) (zerop n)) (return-from request-path nil))
               (loop for i below n do (vector-push-extend (code-char (aref buf i)) head))))
    (let* ((sp1 (position #\Space head)) (sp2 (and sp1 (position #\Space head :start (1+ sp1)))))
      (and sp2 (subseq head (1+ sp1) sp2)))))

(defun serve (s root)
  (unwind-protect
       (handler-case
           (let* ((path (request-path s))
                  (name (and path (subseq path (1+ (or (position #\/ path :from-end t) -1)))))
                  (file (and name (plusp (length name)) (probe-file (concatenate 'string root name))))
                  (out (sb-bsd-sockets:socket-make-stream s :output t :element-type '(unsigned-byte 8)
                                                            :buffering :full)))
             (if (null file)
                 (write-sequence (sb-ext:string-to-octets
                                  (format nil "HTTP/1.0 404 Not Found~c~cContent-Length: 0~c~c~c~c"
                                          #\Return #\Newline #\Return #\Newline #\Return #\Newline))
                                 out)
                 (with-open-file (in file :element-type '(unsigned-byte 8))
                   (write-sequence (sb-ext:string-to-octets
                                    (format nil "HTTP/1.0 200 OK~c~cContent-Length: ~d~c~c~c~c"
                                            #\Return #\Newline (file-length in)
                                            #\Return #\Newline #\Return #\Newline))
                                   out)
                   (finish-output out) ; the header alone, then the loop as in sbcl-loop.lisp
                   (let ((buf (make-array 8192 :element-type '(unsigned-byte 8))))
                     (loop for n = (read-sequence buf in) while (> n 0)
                           do (write-sequence buf out :end n)))))
             (finish-output out))
         (error () nil)) ; the client went away
    (ignore-errors (sb-bsd-sockets:socket-close s :abort t))))

(defun main ()
  (let* ((args sb-ext:*posix-argv*)
         (root (second args)) (port (parse-integer (third args)))
         (l (make-instance 'sb-bsd-sockets:inet-socket :type :stream :protocol :tcp)))
    (setf (sb-bsd-sockets:sockopt-reuse-address l) t)
    (sb-bsd-sockets:socket-bind l #(127 0 0 1) port)
    (sb-bsd-sockets:socket-listen l 256)
    (handler-case
        (loop (let ((s (sb-bsd-sockets:socket-accept l)))
                (sb-thread:make-thread (lambda () (serve s root)) :name "conn")))
      (sb-sys:interactive-interrupt ()
        (sb-bsd-sockets:socket-close l)
        ;; exit normally (the library writes its stats line at exit); threads still
        ;; sending are abandoned after 2 s
        (sb-ext:exit :code 0 :timeout 2)))))
(main)
